// `crisp-monitor pod-init`: pid 1 of a pod whose containers share a pid namespace. Reaps every
// process reparented to it and exits on SIGTERM or SIGINT.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/monitor/run.h"

namespace crisp::monitor {

int pod_init_main() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  for (;;) {
    int sig = 0;
    if (sigwait(&mask, &sig) != 0) continue;
    if (sig == SIGTERM || sig == SIGINT) return 0;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
}

}  // namespace crisp::monitor
