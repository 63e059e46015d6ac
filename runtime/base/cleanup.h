#pragma once
// Scope guard for roll-back: runs its function on scope exit unless dismiss()ed.
//   Cleanup undo([&] { remove_dir(path); });
//   ... more steps that may throw ...
//   undo.dismiss();
#include <functional>
#include <utility>

namespace crisp {

class Cleanup {
 public:
  explicit Cleanup(std::function<void()> fn) : fn_(std::move(fn)) {}
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() {
    if (fn_) {
      try {
        fn_();
      } catch (...) {
      }
    }
  }
  void dismiss() { fn_ = nullptr; }

 private:
  std::function<void()> fn_;
};

}  // namespace crisp
