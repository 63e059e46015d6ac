#pragma once
// Shared by the image integration tests: a shared registry with the standard images, an
// ImageService on a temporary root, and a mounted container rootfs.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>

#include "image/content_store.h"
#include "image/image_service.h"
#include "image/snapshot/snapshotter.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/test_assets.h"
#include "tests/support/test_images.h"

namespace crisp::test {

// The standard images, pushed once into the environment's registry.
const StandardImages& standard_images();

// A temp root with an ImageService on it; destroyed (and the root removed) at scope exit.
struct ImageStore {
  explicit ImageStore(image::ImageServiceOptions options = {});
  ~ImageStore();
  void reopen();  // destroys and re-creates the service on the same root (a restart)
  image::ImageService& operator*() { return *service; }
  image::ImageService* operator->() { return service.get(); }

  // Nothing in the store: no records, blobs, chains, ingests.
  bool empty() const;

  std::unique_ptr<TempDir> dir;
  std::string config_dir;  // hosts.toml dir (empty)
  image::ImageServiceOptions options;
  std::unique_ptr<image::ImageService> service;
};

// A container rootfs mounted on a temp dir; unmounted and removed at scope exit.
class MountedRootfs {
 public:
  MountedRootfs(image::ImageService& images, const std::string& container_id, const std::string& image_id);
  ~MountedRootfs();
  std::string path(const std::string& inside) const { return target_->path() + inside; }
  std::optional<std::string> read(const std::string& inside) const;
  bool exists(const std::string& inside) const {
    struct stat st;
    return ::lstat(path(inside).c_str(), &st) == 0;
  }

 private:
  image::ImageService& images_;
  std::string container_id_;
  std::unique_ptr<TempDir> target_;
};

}  // namespace crisp::test
