#pragma once
// A fake cgroup filesystem in a temp dir for the driver unit tests: directories stand for
// cgroups, regular files for control files. Removed with everything in it on destruction.
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "runtime/base/file_util.h"

namespace crisp::cgroups::testing {

class FakeCgroupTree {
 public:
  FakeCgroupTree() {
    char tmpl[] = "/tmp/crisp-fake-cgroup-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    root_ = tmpl;
  }
  ~FakeCgroupTree() { crisp::remove_tree(root_); }
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::string& root() const { return root_; }
  std::string dir(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }

  // Creates dir "rel" (and parents) holding files with the given content.
  void make(const std::string& rel, const std::map<std::string, std::string>& files = {}) const {
    crisp::make_dirs(dir(rel));
    for (const auto& [name, content] : files) write(rel + "/" + name, content);
  }
  void write(const std::string& rel, const std::string& content) const {
    std::ofstream out(dir(rel), std::ios::trunc);
    out << content;
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(dir(rel));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool exists(const std::string& rel) const {
    struct stat st;
    return ::stat(dir(rel).c_str(), &st) == 0;
  }

 private:
  std::string root_;
};

}  // namespace crisp::cgroups::testing
