#pragma once
// The overlayfs snapshotter: one committed, read-only snapshot per layer chain (keyed by chainID,
// shared by every image with that chain) and one writable snapshot per container.
//
// On disk, below <root>/snapshots (root = crispd's --root):
//   chains/<chainID hex>/fs/         the layer's files (OCI whiteouts as overlay whiteouts)
//   chains/<chainID hex>/meta.json   {chain_id, parent, diff_id, size, disk_bytes, inodes}
//   containers/<key>/{upper,work}/   a container's writable layer, meta.json {key, chain_id, ...}
//   tmp/                             applies and removals in progress; emptied by recover()
//   empty/                           the lower directory of a container without layers
// A chain is committed by renaming a fully written and synced temporary directory into chains/,
// so a crash leaves either nothing or a complete snapshot.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/layer/layer_apply.h"
#include "image/snapshot/chain_id.h"
#include "image/snapshot/disk_usage.h"
#include "image/snapshot/overlay_mount.h"

namespace crisp::snapshot {

struct ChainInfo {
  std::string chain_id;
  std::string parent;   // "" for a base layer
  std::string diff_id;  // sha256 of the layer's uncompressed tar
  uint64_t size = 0;    // bytes of the uncompressed tar
  Usage usage;          // of fs/ when it was committed
};

struct ContainerSnapshotInfo {
  std::string key;
  std::string chain_id;  // "" for a container without layers
  bool readonly = false;
};

struct SnapshotsUsage {
  std::string snapshots_dir;  // <root>/snapshots (its filesystem is the image filesystem)
  Usage chains;               // all committed chains (as measured when committed)
  Usage containers;           // all containers' writable layers (measured now)
};

class Snapshotter {
 public:
  // Creates <root>/snapshots/... if needed and loads the committed chains and containers.
  explicit Snapshotter(const std::string& root);

  // Deletes what interrupted applies, prepares and removals left in tmp/. Call once at start.
  // Returns the number of entries removed.
  size_t recover();

  std::string snapshots_dir() const { return dir_; }

  // ---- committed layer chains ----
  bool has(const std::string& chain_id) const;
  std::optional<ChainInfo> chain(const std::string& chain_id) const;
  std::vector<ChainInfo> chains() const;

  // Unpacks one layer (streamed from `reader`) as chain `chain_id` on top of `parent_chain_id`
  // ("" for the base layer) and commits it. The parent need not be committed yet (layers of one
  // image may be applied in parallel). The computed diffID must give
  // chain_id == chain_id(parent, diffID), else kInvalidArgument and nothing is kept. If the chain
  // exists already the reader is not called and the existing chain is returned; concurrent
  // applies of one chain: the first does the work, the others wait for it and reuse it.
  ChainInfo apply(const std::string& chain_id, const std::string& parent_chain_id,
                  const layer::LayerReader& reader, const layer::LayerApplyOptions& options = {});

  // Removes a committed chain. kFailedPrecondition while a container snapshot or a child chain
  // uses it; kNotFound if it does not exist.
  void remove_chain(const std::string& chain_id);

  // ---- container snapshots ----
  // Creates the writable snapshot `key` (a container id) on top of chain_id ("" = no layers) and
  // returns how to mount it. readonly = a view: no upper layer. Every layer of the chain must be
  // committed (kNotFound otherwise); kAlreadyExists if key is taken.
  Mount prepare(const std::string& key, const std::string& chain_id, bool readonly = false);
  // The mount description of an existing container snapshot.
  Mount mounts(const std::string& key) const;
  // Mounts the container snapshot on target (see mount_snapshot()).
  void mount(const std::string& key, const std::string& target) const;
  static void unmount(const std::string& target) { unmount_snapshot(target); }
  // Deletes the container snapshot (unmount it first). Missing key is not an error.
  void remove(const std::string& key);
  // Bytes and inodes of the container's writable layer; kNotFound for an unknown key.
  Usage usage(const std::string& key) const;
  std::vector<ContainerSnapshotInfo> list() const;

  // Totals for ImageFsInfo.
  SnapshotsUsage usage() const;

 private:
  std::string chain_dir(const std::string& chain_id) const;
  std::string container_dir(const std::string& key) const;
  std::vector<std::string> lower_dirs(const std::string& chain_id) const;  // top first; mutex_ held
  Mount describe(const ContainerSnapshotInfo& info) const;                 // mutex_ held
  void load();
  std::string new_temp_dir();

  std::string dir_;  // <root>/snapshots
  bool volatile_supported_;

  mutable std::mutex mutex_;                 // guards chains_, containers_, applying_
  std::condition_variable applied_;          // signalled when a chain leaves applying_
  std::map<std::string, ChainInfo> chains_;  // committed, by chainID
  std::map<std::string, ContainerSnapshotInfo> containers_;  // by key
  std::set<std::string> applying_;                           // chainIDs being applied now
};

}  // namespace crisp::snapshot
