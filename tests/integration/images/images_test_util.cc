#include "tests/integration/images/images_test_util.h"

#include <dirent.h>

#include "runtime/base/file_util.h"

namespace crisp::test {

namespace {

size_t entries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

}  // namespace

const StandardImages& standard_images() {
  static StandardImages images = push_standard_images(RegistryEnvironment::registry());
  return images;
}

ImageStore::ImageStore(image::ImageServiceOptions opts) : dir(std::make_unique<TempDir>("crisp-images")), options(opts) {
  options.root = dir->path() + "/root";
  config_dir = dir->path() + "/certs.d";
  make_dirs(config_dir);
  if (options.registry_config_dir == image::ImageServiceOptions{}.registry_config_dir) options.registry_config_dir = config_dir;
  service = std::make_unique<image::ImageService>(options);
}

ImageStore::~ImageStore() {
  service.reset();
  dir.reset();
}

void ImageStore::reopen() {
  service.reset();
  service = std::make_unique<image::ImageService>(options);
}

bool ImageStore::empty() const {
  return service->list().empty() && service->content().list().empty() && service->snapshotter().chains().empty() &&
         entries(options.root + "/content/ingest") == 0 && entries(options.root + "/snapshots/tmp") == 0;
}

MountedRootfs::MountedRootfs(image::ImageService& images, const std::string& container_id, const std::string& image_id)
    : images_(images), container_id_(container_id), target_(std::make_unique<TempDir>("crisp-rootfs")) {
  images_.prepare_rootfs(container_id_, image_id);
  try {
    images_.snapshotter().mount(container_id_, target_->path());
  } catch (...) {
    images_.remove_rootfs(container_id_);
    throw;
  }
}

MountedRootfs::~MountedRootfs() {
  snapshot::Snapshotter::unmount(target_->path());
  images_.remove_rootfs(container_id_);
}

std::optional<std::string> MountedRootfs::read(const std::string& inside) const {
  return read_file_if_exists(path(inside));
}

}  // namespace crisp::test
