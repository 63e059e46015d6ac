// bench-registry: serves the benchmark's images from a local docker-registry on 127.0.0.1 until
// SIGTERM/SIGINT. Writes "KEY=VALUE" lines (registry host and image refs) to the file named by
// --out once every image is pushed.
//   bench-registry --out /tmp/refs.env [--large] --pause /path/to/crisp-bench-pause
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "runtime/base/file_util.h"
#include "tests/support/oci_builder.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_images.h"

int main(int argc, char** argv) {
  std::string out, pause_path;
  bool large = false;
  CLI::App app{"bench-registry"};
  app.add_option("--out", out, "File for the refs")->required();
  app.add_option("--pause", pause_path, "Static pause binary for the sandbox image")->required();
  app.add_flag("--large", large, "Also push the large image");
  CLI11_PARSE(app, argc, argv);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  try {
    crisp::test::RegistryFixture registry;
    auto images = crisp::test::push_standard_images(registry);
    std::string env = "REGISTRY=" + registry.host() + "\nIMAGE=" + images.busybox.ref + "\n";

    crisp::test::TarEntry pause = crisp::test::file("pause", crisp::read_file(pause_path), 0755);
    crisp::test::ImageConfig config;
    config.entrypoint = std::vector<std::string>{"/pause"};
    auto image = crisp::test::build_image(config, {crisp::test::make_layer({pause})},
                                          crisp::test::ManifestFormat::kDockerSchema2);
    registry.push_image("crisp-bench/pause", "3.9", image);
    env += "PAUSE_IMAGE=" + registry.host() + "/crisp-bench/pause:3.9\n";
    if (large) env += "LARGE_IMAGE=" + crisp::test::push_large_image(registry).ref + "\n";
    crisp::atomic_write_file(out, env);
    std::cerr << "bench-registry: serving on " << registry.host() << "\n";
    int sig = 0;
    sigwait(&set, &sig);
  } catch (const std::exception& e) {
    std::cerr << "bench-registry: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
