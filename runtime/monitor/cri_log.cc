#include "runtime/monitor/cri_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime/monitor/util.h"

namespace crisp::monitor {

namespace {

constexpr size_t kPageSize = 4096;

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

void put_digits(char* out, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

size_t format_rfc3339_nano(int64_t unix_ns, char out[32]) {
  int64_t secs = unix_ns / 1000000000LL;
  int64_t nanos = unix_ns % 1000000000LL;
  if (nanos < 0) {
    nanos += 1000000000LL;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t year;
  unsigned month, day;
  civil_from_days(days, &year, &month, &day);
  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
  put_digits(out, static_cast<uint64_t>(year), 4);
  out[4] = '-';
  put_digits(out + 5, month, 2);
  out[7] = '-';
  put_digits(out + 8, day, 2);
  out[10] = 'T';
  put_digits(out + 11, static_cast<uint64_t>(rem / 3600), 2);
  out[13] = ':';
  put_digits(out + 14, static_cast<uint64_t>(rem / 60 % 60), 2);
  out[16] = ':';
  put_digits(out + 17, static_cast<uint64_t>(rem % 60), 2);
  out[19] = '.';
  put_digits(out + 20, static_cast<uint64_t>(nanos), 9);
  out[29] = 'Z';
  out[30] = '\0';
  return 30;
}

bool CriLog::init(const char* path, uint32_t max_line) {
  path_ = path;
  max_line_ = max_line;
  if (!path) return true;
  fd_ = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  return fd_ >= 0;
}

bool CriLog::reopen() {
  if (!path_) return true;
  int fd = open(path_, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  return true;
}

bool CriLog::init_stream(CriLogStream* s, const char* name) {
  s->name = name;
  void* p = mmap(nullptr, max_line_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  s->pending = static_cast<char*>(p);
  s->pending_len = 0;
  s->high_water = 0;
  return true;
}

char* CriLog::tail(CriLogStream* s, size_t* room) const {
  *room = max_line_ - s->pending_len;
  return s->pending + s->pending_len;
}

void CriLog::write_record(const char* stream, bool partial, const char* text, size_t len,
                          int64_t now_ns) {
  if (fd_ < 0) return;
  char header[64];
  size_t n = format_rfc3339_nano(now_ns, header);
  header[n++] = ' ';
  size_t name_len = strlen(stream);
  memcpy(header + n, stream, name_len);
  n += name_len;
  header[n++] = ' ';
  header[n++] = partial ? 'P' : 'F';
  header[n++] = ' ';
  char newline = '\n';
  struct iovec iov[3] = {{header, n}, {const_cast<char*>(text), len}, {&newline, 1}};
  size_t total = n + len + 1;
  // O_APPEND makes each writev one record; retry the rest on a short write.
  ssize_t w;
  do {
    w = writev(fd_, iov, 3);
  } while (w < 0 && errno == EINTR);
  if (w >= 0 && static_cast<size_t>(w) < total) {
    // Rare (disk full); finish the record byte-wise so the file stays line-structured.
    size_t done = static_cast<size_t>(w);
    for (auto& v : iov) {
      if (done >= v.iov_len) {
        done -= v.iov_len;
        continue;
      }
      write_all(fd_, static_cast<char*>(v.iov_base) + done, v.iov_len - done);
      done = 0;
    }
  }
}

void CriLog::commit(CriLogStream* s, size_t n, int64_t now_ns) {
  size_t scan_from = s->pending_len;
  s->pending_len += n;
  if (s->pending_len > s->high_water) s->high_water = s->pending_len;
  size_t start = 0;
  for (;;) {
    char* nl = static_cast<char*>(
        memchr(s->pending + scan_from, '\n', s->pending_len - scan_from));
    if (!nl) break;
    size_t end = static_cast<size_t>(nl - s->pending);
    write_record(s->name, false, s->pending + start, end - start, now_ns);
    start = end + 1;
    scan_from = start;
  }
  if (start == 0 && s->pending_len == max_line_) {
    // A full buffer without a newline: one P chunk of max_line bytes.
    write_record(s->name, true, s->pending, max_line_, now_ns);
    start = max_line_;
  }
  size_t rest = s->pending_len - start;
  if (start > 0 && rest > 0) memmove(s->pending, s->pending + start, rest);
  s->pending_len = rest;
  if (rest == 0 && s->high_water > kPageSize) {
    // Give back the pages a long line touched; the first page stays.
    madvise(s->pending + kPageSize, (s->high_water - kPageSize + kPageSize - 1) & ~(kPageSize - 1),
            MADV_DONTNEED);
    s->high_water = 0;
  }
}

void CriLog::flush(CriLogStream* s, int64_t now_ns) {
  if (s->pending_len > 0) write_record(s->name, false, s->pending, s->pending_len, now_ns);
  s->pending_len = 0;
}

}  // namespace crisp::monitor
