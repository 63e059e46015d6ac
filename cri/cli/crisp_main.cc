// crisp: the admin CLI of crispd (image archives, pins, info, garbage collection, config). It talks
// to crispd's crisp.admin.v1.Admin service on the CRI socket.
// Exit codes: 0 ok, 1 failure ("crisp: <message>" on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cri/cli/cli.h"
#include "cri/context.h"
#include "cri/daemon/config.h"

namespace crisp::cri {
const char* crisp_version() { return CRISP_VERSION; }
}  // namespace crisp::cri

int main(int argc, char** argv) {
  using namespace crisp::cli;
  CLI::App app{"crisp — administer crispd (image import/export, pins, info, gc, config)", "crisp"};
  app.set_version_flag("--version", std::string("crisp ") + CRISP_VERSION);
  app.require_subcommand(1);
  std::string socket = "/run/crisp/crisp.sock";
  app.add_option("--socket", socket, "crispd's socket")->envname("CRISP_SOCKET")->capture_default_str();

  auto* images = app.add_subcommand("images", "Manage images beyond the CRI")->require_subcommand(1);
  std::string import_file;
  bool all_platforms = false, no_pin = false;
  auto* import = images->add_subcommand("import", "Import a docker save or OCI image-layout tar (plain or gzip)");
  import->add_option("file", import_file, "Archive to read, - for standard input")->required();
  import->add_flag("--all-platforms", all_platforms, "Keep every platform's blobs (only the node's is unpacked)");
  import->add_flag("--no-pin", no_pin, "Do not pin the imported images (the kubelet may garbage-collect them)");
  std::vector<std::string> export_refs;
  std::string export_output;
  auto* exp = images->add_subcommand("export", "Write images as an OCI image-layout tar with a docker manifest.json");
  exp->add_option("ref", export_refs, "Images to export (tag, id or digest reference)")->required();
  exp->add_option("-o,--output", export_output, "File to write, - for standard output")->required();
  std::string pin_ref, unpin_ref;
  auto* pin = images->add_subcommand("pin", "Pin an image: RemoveImage and the kubelet's GC keep it");
  pin->add_option("ref", pin_ref, "Image (tag, id or digest reference)")->required();
  auto* unpin = images->add_subcommand("unpin", "Unpin an image");
  unpin->add_option("ref", unpin_ref, "Image (tag, id or digest reference)")->required();

  bool info_json = false;
  auto* info = app.add_subcommand("info", "Show crispd's version, settings, counts and store usage");
  info->add_flag("--json", info_json, "Print JSON");
  auto* gc = app.add_subcommand("gc", "Delete blobs and layer snapshots no image or container needs");
  auto* config = app.add_subcommand("config", "Print configuration")->require_subcommand(1);
  auto* config_default = config->add_subcommand("default", "Print the default config with comments (no crispd needed)");
  auto* config_dump = config->add_subcommand("dump", "Print the config crispd runs with");

  // --socket is accepted after the subcommand too ("crisp images import x.tar --socket ...").
  for (CLI::App* sub : {images, import, exp, pin, unpin, info, gc, config, config_default, config_dump}) {
    sub->fallthrough();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  try {
    if (*config_default) {
      std::cout << crisp::cri::default_config_toml();
      return kExitOk;
    }
    AdminClient client(socket);
    if (*import) return images_import(client, import_file, all_platforms, no_pin);
    if (*exp) return images_export(client, export_refs, export_output);
    if (*pin) return images_pin(client, pin_ref, true);
    if (*unpin) return images_pin(client, unpin_ref, false);
    if (*info) return crisp::cli::info(client, info_json);
    if (*gc) return crisp::cli::gc(client);
    if (*config_dump) return crisp::cli::config_dump(client);
    std::cerr << app.help();
    return kExitUsage;
  } catch (const CliError& e) {
    std::cerr << "crisp: " << e.message << "\n";
    return e.exit_code;
  } catch (const std::exception& e) {
    std::cerr << "crisp: " << e.what() << "\n";
    return kExitFailure;
  }
}
