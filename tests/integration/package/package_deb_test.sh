#!/bin/bash
# package_deb_test BUILD_DIR: `make package`'s .deb installs on this machine with dpkg -i, puts
# every file in its place, runs, and `dpkg -r` + `dpkg -P` leave nothing of it behind.
# Skips (exit 77) on a machine where crisp is already installed, so an operator's install is never touched.
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

if dpkg-query -W -f='${Status}' crisp 2>/dev/null | grep -q 'install ok'; then
  echo "SKIP: the crisp package is installed on this machine"; exit 77
fi
for f in /usr/bin/crispd /usr/bin/crisp /usr/bin/crisp-monitor /etc/crisp; do
  [ ! -e "$f" ] || { echo "SKIP: $f exists (crisp installed by other means)"; exit 77; }
done

work=$(mktemp -d /tmp/crisp-package-test.XXXXXX)
installed=false
cleanup() {
  if $installed; then dpkg -P crisp >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# 1. Build the package from the build tree (what `make package` runs).
(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/crisp_*.deb)
echo "built $(basename "$deb")"

# 2. Its metadata and contents.
dpkg-deb -f "$deb" Package | grep -qx crisp || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libgrpc++ libprotobuf libseccomp libcap2 libarchive libcurl libnl-route-3 libnftables libsystemd; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib"
done
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/contents"
for f in ./usr/bin/crispd ./usr/bin/crisp-monitor ./usr/bin/crisp ./usr/lib/systemd/system/crispd.service \
         ./etc/crisp/crisp.toml ./usr/share/doc/crisp/examples/crictl.yaml ./usr/share/doc/crisp/examples/runtimeclass.yaml; do
  grep -qx "$f" "$work/contents" || fail "package lacks $f"
done
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/crisp/crisp.toml "$work/control/conffiles" || fail "crisp.toml is not a conffile"

# 3. Install it; the binaries run, the unit points at them, the config parses.
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log"; fail "dpkg -i"; }
installed=true
/usr/bin/crispd --version | grep -q '^crispd ' || fail "crispd --version"
/usr/bin/crisp --version >/dev/null || fail "crisp --version"
/usr/bin/crispd --config /etc/crisp/crisp.toml config dump >/dev/null || fail "crispd config dump of the installed config"
grep -q '^ExecStart=/usr/bin/crispd' /usr/lib/systemd/system/crispd.service || fail "unit ExecStart"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no /usr/lib/systemd/system/crispd.service >"$work/verify.log" 2>&1 \
    || { cat "$work/verify.log"; fail "systemd-analyze verify of the installed unit"; }
fi

# 4. Remove: the files go, the conffile stays until purge.
dpkg -r crisp >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
for f in /usr/bin/crispd /usr/bin/crisp /usr/bin/crisp-monitor /usr/lib/systemd/system/crispd.service \
         /usr/share/doc/crisp; do
  [ ! -e "$f" ] || fail "$f left after dpkg -r"
done
[ -e /etc/crisp/crisp.toml ] || fail "dpkg -r removed the conffile (only purge should)"
dpkg -P crisp >"$work/dpkg-p.log" 2>&1 || { cat "$work/dpkg-p.log"; fail "dpkg -P"; }
installed=false
[ ! -e /etc/crisp ] || fail "/etc/crisp left after purge"
dpkg-query -W -f='${Status}' crisp 2>/dev/null | grep -q 'install ok' && fail "still installed"
echo "PASS"
