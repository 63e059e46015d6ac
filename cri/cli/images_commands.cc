// crisp images import | export | pin | unpin.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "cri/cli/cli.h"
#include "runtime/base/cleanup.h"
#include "runtime/base/unique_fd.h"

namespace crisp::cli {

namespace {

namespace admin = ::crisp::admin::v1;

constexpr size_t kChunkBytes = 1 << 20;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

void write_all(int fd, const std::string& data, const std::string& what) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw CliError{errno_text("writing " + what)};
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

int images_import(AdminClient& client, const std::string& file, bool all_platforms, bool no_pin) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  if (file != "-") {
    owned.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned) throw CliError{errno_text("cannot open " + file)};
    fd = owned.get();
  } else if (::isatty(STDIN_FILENO)) {
    throw CliError{"refusing to read an image archive from a terminal (crisp images import - < FILE)", kExitUsage};
  }
  client.check_reachable();
  auto ctx = call_context(0);
  admin::ImportImagesResponse response;
  std::unique_ptr<grpc::ClientWriter<admin::ImportChunk>> writer = client.stub().ImportImages(ctx.get(), &response);
  admin::ImportChunk chunk;
  chunk.set_all_platforms(all_platforms);
  chunk.set_no_pin(no_pin);
  std::string buffer(kChunkBytes, '\0');
  bool first = true;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ctx->TryCancel();
      writer->Finish();
      throw CliError{errno_text("reading " + (file == "-" ? std::string("standard input") : file))};
    }
    if (n == 0 && !first) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    // false: crispd ended the call early (it refused the archive); Finish() says why.
    if (!writer->Write(chunk)) break;
    chunk.clear_all_platforms();
    chunk.clear_no_pin();
    first = false;
    if (n == 0) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) fail(client, status);
  for (const auto& image : response.images()) {
    std::cout << image.id();
    for (const auto& tag : image.repo_tags()) std::cout << " " << tag;
    std::cout << "\n";
  }
  return kExitOk;
}

int images_export(AdminClient& client, const std::vector<std::string>& refs, const std::string& output) {
  UniqueFd owned;
  int fd = STDOUT_FILENO;
  std::string temp;
  if (output != "-") {
    // Written next to the target and renamed into place, so a failed export leaves no partial file.
    temp = output + ".crisp-export-" + std::to_string(::getpid());
    owned.reset(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!owned) throw CliError{errno_text("cannot create " + temp)};
    fd = owned.get();
  } else if (::isatty(STDOUT_FILENO)) {
    throw CliError{"refusing to write an image archive to a terminal (use -o FILE or redirect)", kExitUsage};
  }
  Cleanup remove_temp([&] {
    if (!temp.empty()) ::unlink(temp.c_str());
  });
  client.check_reachable();
  admin::ExportImagesRequest request;
  for (const auto& ref : refs) request.add_refs(ref);
  auto ctx = call_context(0);
  std::unique_ptr<grpc::ClientReader<admin::Chunk>> reader = client.stub().ExportImages(ctx.get(), request);
  admin::Chunk chunk;
  const std::string what = output == "-" ? "standard output" : output;
  try {
    while (reader->Read(&chunk)) write_all(fd, chunk.data(), what);
  } catch (...) {
    ctx->TryCancel();
    reader->Finish();
    throw;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) fail(client, status);
  if (!temp.empty()) {
    if (::fsync(fd) != 0) throw CliError{errno_text("fsync " + temp)};
    if (::rename(temp.c_str(), output.c_str()) != 0) throw CliError{errno_text("rename " + temp + " to " + output)};
    remove_temp.dismiss();
  }
  return kExitOk;
}

int images_pin(AdminClient& client, const std::string& ref, bool pinned) {
  client.check_reachable();
  admin::PinImageRequest request;
  request.set_ref(ref);
  request.set_pinned(pinned);
  admin::PinImageResponse response;
  auto ctx = call_context();
  grpc::Status status = client.stub().PinImage(ctx.get(), request, &response);
  if (!status.ok()) fail(client, status);
  std::cout << response.id() << (pinned ? " pinned" : " unpinned") << "\n";
  return kExitOk;
}

}  // namespace crisp::cli
