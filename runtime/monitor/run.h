#pragma once
// Entry points of the crisp-monitor modes (main.cc dispatches on argv[1]).
namespace crisp::monitor {

// crisp-monitor run <bundle-dir> --sync-fd <n>
int run_main(int argc, char** argv);
// crisp-monitor exec --pid <pid> [--tty] [--winsize RxC] [--spec <file>] -- argv...
int exec_main(int argc, char** argv);
// crisp-monitor pod-init
int pod_init_main();

}  // namespace crisp::monitor
