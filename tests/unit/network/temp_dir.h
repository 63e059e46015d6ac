#pragma once
// A temporary directory removed at scope exit.
#include <cstdlib>
#include <string>

#include "runtime/base/file_util.h"

namespace crisp::network::testing {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/crisp-network-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { crisp::remove_tree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace crisp::network::testing
