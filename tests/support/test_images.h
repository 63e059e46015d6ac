#pragma once
// The standard test images, built from local Debian packages and pushed into a RegistryFixture.
//
//   crisp::test::RegistryFixture registry;
//   crisp::test::StandardImages images = crisp::test::push_standard_images(registry);
//   images.busybox.ref        // "127.0.0.1:PORT/crisp-test/busybox:latest"
//   images.busybox.digest     // manifest digest ("sha256:..."), images.busybox.media_type
//   if (images.busybox_dynamic) ...   // nullopt (and dynamic_skip_reason) if the download failed
//   crisp::test::PushedImage large = crisp::test::push_large_image(registry);  // only when asked
//
// Images are built once and cached on disk (blobs + refs.json) in
//   $CRISP_TEST_CACHE or /var/cache/crisp-tests, directory "images-v<kTestImagesVersion>-<hash>"
// keyed by kTestImagesVersion and the sha256 of the host's /bin/busybox; later calls only upload
// (tens of milliseconds). Builds are serialised between processes with flock(<cache>/lock).
// Bump kTestImagesVersion whenever an image's content changes.
//
// All images are linux; amd64 unless said otherwise. Layer tar paths have no leading "./" or "/".
//
// crisp-test/busybox:latest (Docker schema2, one gzip layer) and crisp-test/busybox-oci:latest (the
// same layer and config bytes, OCI media types). Rootfs:
//   /bin/busybox (static, 0755) and every applet of `busybox --list` as a hardlink /bin/<applet>
//   /etc/passwd, /etc/group (root 0, nobody 65534, app 1000:1000 home /home/app)
//   /tmp 1777, /root 0700, /home/app 0755 owned 1000:1000, empty /dev /proc /sys /usr/bin /var
//   config: Env [kBusyboxPath], Cmd ["sh"]
//
// crisp-test/config:latest (Docker schema2): busybox layer + a layer with /work (0755, 1000:1000)
//   User "1000:1000", Env [PATH, FOO=bar], Entrypoint ["/bin/sh","-c"],
//   Cmd ["echo configured; sleep 3600"], WorkingDir /work, StopSignal SIGUSR1,
//   Labels {org.crisp.test=config, org.crisp.version=1}, ExposedPorts 8080/tcp, Volumes /data.
//
// crisp-test/multilayer:latest (OCI): busybox layer (gzip), then multilayer:: layers below
//   (L1 gzip, L2 zstd, L3 gzip, L4 uncompressed tar). See namespace multilayer for what the merged
//   rootfs must contain.
//
// crisp-test/multiarch:latest (OCI index) and crisp-test/multiarch-docker:latest (Docker manifest
//   list): entries linux/amd64 and linux/arm64 (variant v8). Each child image = busybox layer +
//   a layer with /arch holding "amd64\n" or "arm64\n" (the busybox binary is the host's amd64 one
//   in both). The arm64 config says architecture arm64.
//
// crisp-test/busybox-dynamic:latest (Docker schema2): Debian's dynamically linked busybox
//   (downloaded once with `apt-get download busybox` into <cache>/downloads), applets as hardlinks
//   /bin/<applet>, plus the host's /lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2,libc.so.6,
//   libresolv.so.2} and /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2,
//   same /etc, /tmp, /root as busybox. Cmd ["sh"].
//
// crisp-test/large:latest (Docker schema2, push_large_image only): busybox layer + 5 gzip layers
//   each with /large/blob<N>.bin (kLargeBlobBytes of pseudo-random data) + 1 gzip layer with
//   kLargeSmallFiles files /small/d<NN>/f<NNNN> of 64 bytes. > 200 MB in total.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/oci_builder.h"
#include "tests/support/registry_fixture.h"

namespace crisp::test {

inline constexpr int kTestImagesVersion = 2;

inline constexpr const char* kBusyboxPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
inline constexpr uint32_t kAppUid = 1000;
inline constexpr uint32_t kAppGid = 1000;
inline constexpr uint32_t kNobodyUid = 65534;

inline constexpr const char* kBusyboxRepo = "crisp-test/busybox";
inline constexpr const char* kBusyboxOciRepo = "crisp-test/busybox-oci";
inline constexpr const char* kMultilayerRepo = "crisp-test/multilayer";
inline constexpr const char* kConfigRepo = "crisp-test/config";
inline constexpr const char* kMultiarchRepo = "crisp-test/multiarch";
inline constexpr const char* kMultiarchDockerRepo = "crisp-test/multiarch-docker";
inline constexpr const char* kBusyboxDynamicRepo = "crisp-test/busybox-dynamic";
inline constexpr const char* kLargeRepo = "crisp-test/large";
inline constexpr const char* kTag = "latest";

// crisp-test/config expectations.
namespace config_image {
inline constexpr const char* kUser = "1000:1000";
inline constexpr const char* kEnvFoo = "FOO=bar";
inline constexpr const char* kWorkingDir = "/work";
inline constexpr const char* kStopSignal = "SIGUSR1";
inline constexpr const char* kEntrypoint0 = "/bin/sh";
inline constexpr const char* kEntrypoint1 = "-c";
inline constexpr const char* kCmd = "echo configured; sleep 3600";
inline constexpr const char* kLabelKey = "org.crisp.test";
inline constexpr const char* kLabelValue = "config";
inline constexpr const char* kExposedPort = "8080/tcp";
inline constexpr const char* kVolume = "/data";
}  // namespace config_image

// crisp-test/multilayer: layers and the merged rootfs a test must see (on top of busybox).
//   L1 (gzip):  /data/keep.txt "keep\n", /data/delete-me.txt "delete me\n",
//               /data/replace.txt "old content\n", /data/opaque/old.txt "old\n",
//               /data/opaque/sub/old-nested.txt "old nested\n", /data/gone-dir/file.txt "gone\n",
//               /etc/motd "multilayer v1\n"
//   L2 (zstd):  /data/.wh.delete-me.txt, /data/.wh.gone-dir, /data/replace.txt "new content\n",
//               /data/opaque/.wh..wh..opq, /data/opaque/new.txt "new\n"
//   L3 (gzip):  /data/links/original.txt "linked content\n" (0644), hardlinks
//               /data/links/hardlink1 and /data/links/hardlink2 -> original.txt,
//               /data/links/relative-symlink -> "original.txt",
//               /data/links/absolute-symlink -> "/data/links/original.txt",
//               /data/links/dangling-symlink -> "does-not-exist"
//   L4 (tar):   /data/uncompressed.txt "from an uncompressed layer\n", /bin/.wh.yes
// Merged rootfs:
//   present:  kKeepFile, kReplaceFile (kReplaceContent), kOpaqueNewFile, kLinksOriginal (+2 more
//             links: st_nlink == 3, same inode as kHardlink1/kHardlink2), kRelativeSymlink and
//             kAbsoluteSymlink (readlink texts below), kDanglingSymlink, kUncompressedFile,
//             /etc/motd, every busybox applet except yes
//   absent:   kDeletedFile, kDeletedDir (and its file), kOpaqueOldFile, kOpaqueOldNested (and
//             /data/opaque/sub), kDeletedApplet, and no ".wh.*" names anywhere
namespace multilayer {
inline constexpr const char* kKeepFile = "/data/keep.txt";
inline constexpr const char* kKeepContent = "keep\n";
inline constexpr const char* kDeletedFile = "/data/delete-me.txt";
inline constexpr const char* kDeletedDir = "/data/gone-dir";
inline constexpr const char* kReplaceFile = "/data/replace.txt";
inline constexpr const char* kReplaceOldContent = "old content\n";
inline constexpr const char* kReplaceContent = "new content\n";
inline constexpr const char* kOpaqueDir = "/data/opaque";
inline constexpr const char* kOpaqueOldFile = "/data/opaque/old.txt";
inline constexpr const char* kOpaqueOldNested = "/data/opaque/sub/old-nested.txt";
inline constexpr const char* kOpaqueNewFile = "/data/opaque/new.txt";
inline constexpr const char* kOpaqueNewContent = "new\n";
inline constexpr const char* kLinksOriginal = "/data/links/original.txt";
inline constexpr const char* kLinksContent = "linked content\n";
inline constexpr const char* kHardlink1 = "/data/links/hardlink1";
inline constexpr const char* kHardlink2 = "/data/links/hardlink2";
inline constexpr const char* kRelativeSymlink = "/data/links/relative-symlink";
inline constexpr const char* kRelativeSymlinkTarget = "original.txt";
inline constexpr const char* kAbsoluteSymlink = "/data/links/absolute-symlink";
inline constexpr const char* kAbsoluteSymlinkTarget = "/data/links/original.txt";
inline constexpr const char* kDanglingSymlink = "/data/links/dangling-symlink";
inline constexpr const char* kDanglingSymlinkTarget = "does-not-exist";
inline constexpr const char* kUncompressedFile = "/data/uncompressed.txt";
inline constexpr const char* kUncompressedContent = "from an uncompressed layer\n";
inline constexpr const char* kMotdFile = "/etc/motd";
inline constexpr const char* kMotdContent = "multilayer v1\n";
inline constexpr const char* kDeletedApplet = "/bin/yes";
inline constexpr int kLayerCount = 5;  // busybox + L1..L4
}  // namespace multilayer

// crisp-test/multiarch: /arch content per platform.
namespace multiarch {
inline constexpr const char* kMarkerFile = "/arch";
inline constexpr const char* kAmd64Content = "amd64\n";
inline constexpr const char* kArm64Content = "arm64\n";
inline constexpr const char* kArm64Variant = "v8";
}  // namespace multiarch

inline constexpr uint64_t kLargeBlobBytes = 42ull << 20;  // per layer, 5 layers
inline constexpr int kLargeBlobLayers = 5;
inline constexpr int kLargeSmallFiles = 4000;

struct PushedImage {
  std::string repo;        // "crisp-test/busybox"
  std::string tag;         // "latest"
  std::string ref;         // "127.0.0.1:PORT/crisp-test/busybox:latest"
  std::string digest;      // manifest (or index) digest
  std::string media_type;  // manifest (or index) media type
  std::string ref_by_digest() const;  // "127.0.0.1:PORT/crisp-test/busybox@sha256:..."
};

struct StandardImages {
  PushedImage busybox;
  PushedImage busybox_oci;
  PushedImage multilayer;
  PushedImage config;
  PushedImage multiarch;
  PushedImage multiarch_docker;
  std::optional<PushedImage> busybox_dynamic;
  std::string dynamic_skip_reason;  // why busybox_dynamic is nullopt
  bool from_cache = false;          // true when nothing had to be built
};

// Builds (or loads from the cache) and pushes every standard image. Throws crisp::Error.
StandardImages push_standard_images(RegistryFixture& registry);
// crisp-test/large:latest (> 200 MB), built on first use and cached.
PushedImage push_large_image(RegistryFixture& registry);

// In-memory pieces for unit tests that need no registry (not cached; ~0.2 s for the layer).
std::vector<TarEntry> busybox_rootfs_entries();  // the busybox layer's entries, in tar order
Layer busybox_layer();                           // gzip
Image busybox_image(ManifestFormat format);      // the crisp-test/busybox(-oci) image
// The cache directory holding the standard images (built if missing); blobs/<hex> inside.
std::string standard_images_cache_dir();

}  // namespace crisp::test
