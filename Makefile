# crisp — top-level entry points. `make run` and `make test` work on a fresh Debian 12 machine as root.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)

# Debian packages the build and the tests need.
BUILD_PKGS := build-essential cmake pkg-config git \
	libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
	libseccomp-dev libcap-dev nlohmann-json3-dev libspdlog-dev libfmt-dev \
	libgtest-dev libgmock-dev libcurl4-openssl-dev libarchive-dev libssl-dev \
	libnl-3-dev libnl-route-3-dev libnftables-dev libsystemd-dev libboost-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
TEST_PKGS  := busybox-static apache2-utils docker-registry containernetworking-plugins jq curl iproute2 util-linux
PKGS       := $(BUILD_PKGS) $(TEST_PKGS)

.PHONY: deps build run test bench install package clean

deps:
	@missing=""; \
	for p in $(PKGS); do dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja $(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/crispd

test: build
	cd $(BUILD) && ctest --output-on-failure -j 1

# Installs crispd, crisp-monitor, crisp, the systemd unit and /etc/crisp/crisp.toml (PREFIX, DESTDIR).
PREFIX ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX) --strip

# build/crisp_<version>_<arch>.deb: the same files under /usr, Depends computed by dpkg-shlibdeps.
package: build
	cd $(BUILD) && cpack -G DEB

# Side-by-side benchmark against Debian's containerd + runc (tests/bench/README.md). Not a test.
bench: build
	tests/bench/compare.sh

clean:
	rm -rf $(BUILD)
