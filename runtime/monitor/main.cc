// crisp-monitor: the per-container process of crisp (see protocol.h for the modes).
#include <string.h>

#include "runtime/monitor/run.h"
#include "runtime/monitor/util.h"

int main(int argc, char** argv) {
  using namespace crisp::monitor;
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return run_main(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "exec") == 0) return exec_main(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "pod-init") == 0) return pod_init_main();
  log_message("usage: crisp-monitor run <bundle-dir> --sync-fd <n> | exec --pid <pid> [--tty] "
              "[--winsize RxC] [--resize-fd <n>] [--spec <file>] -- argv... | pod-init");
  return 2;
}
