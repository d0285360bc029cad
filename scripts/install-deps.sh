#!/usr/bin/env bash
# Install the Debian packages needed to build and test ocirt-rootless.
# Idempotent: packages already installed are left alone.
set -euo pipefail

PKGS=(
	build-essential pkg-config
	libjansson-dev libseccomp-dev libcap-dev libglib2.0-dev libslirp-dev libsubid-dev libarchive-dev
	uidmap busybox-static
	bats bats-assert bats-support
	jq iproute2 fuse-overlayfs procps util-linux psmisc coreutils passwd zstd sudo libcap2-bin
	# reference runtimes (the tests are validated against runc) and the
	# Podman integration tests
	runc crun podman conmon slirp4netns passt netavark aardvark-dns
	golang-github-containers-common
	# make format-check, make fuzz-quick (libFuzzer), make bench
	clang-format clang libclang-rt-14-dev iperf3 hyperfine
)

# --vm: also what the VM tier (make check-vm) needs: a kernel to boot,
# qemu, and debootstrap for the guest image.
if [ "${1:-}" = "--vm" ]; then
	PKGS+=(qemu-system-x86 debootstrap linux-image-amd64 e2fsprogs)
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: must run as root (try: sudo $0)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps.sh: all ${#PKGS[@]} packages already installed"
	exit 0
fi

echo "install-deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps.sh: done"
