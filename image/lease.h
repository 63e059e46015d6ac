#pragma once
// A running pull's hold on the blobs and chains it uses: collect_garbage() never deletes a leased
// digest or chainID. Internal to image/.
#include <string>
#include <vector>

#include "image/image_service.h"

namespace crisp::image {

class ImageService::Lease {
 public:
  explicit Lease(ImageService& service) : service_(service) {}
  ~Lease() { release(); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  void add(const std::string& item) {
    std::lock_guard lock(service_.gc_mutex_);
    service_.leases_.insert(item);
    held_.push_back(item);
  }
  void release() {
    std::lock_guard lock(service_.gc_mutex_);
    for (const auto& item : held_) {
      auto it = service_.leases_.find(item);
      if (it != service_.leases_.end()) service_.leases_.erase(it);
    }
    held_.clear();
  }

 private:
  ImageService& service_;
  std::vector<std::string> held_;
};

}  // namespace crisp::image
