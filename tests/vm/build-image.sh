#!/usr/bin/env bash
# build-image.sh: the VM tier's Debian 12 image, built once and cached.
#
# Prints the image directory (root.img, vmlinuz, initrd.img). The cache key
# is a hash of this script, tests/vm/guest/* (what goes into the image), the package list, the mirror
# and the kernel: the image is rebuilt only when one of them changes (older
# images are removed). Test files and the runtime are not in the image: they
# come on a second disk at each run (run-vm.sh).
#
# The image: debootstrap --variant=minbase bookworm with systemd, the user
# session bus, uidmap, fuse-overlayfs, podman and crun (for comparison),
# bats and jq; the user `ocirt` (uid 1000) with subordinate ids and
# linger; a drop-in that delegates cpu cpuset io memory pids to user
# managers; ocirt-vm-test.service, which runs the payload's tests and
# powers off. Kernel and initrd are the host's linux-image-amd64 ones.
#
# Root (debootstrap). Environment: OCIRT_VM_DIR (default /var/tmp/ocirt-vm),
# OCIRT_VM_MIRROR (default: the host's Debian mirror), OCIRT_VM_PACKAGES
# (more packages, comma-separated).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vm_dir=${OCIRT_VM_DIR:-/var/tmp/ocirt-vm}

die() { echo "build-image.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap); e.g. sudo make check-vm"
command -v debootstrap >/dev/null || die "debootstrap not installed: apt-get install debootstrap"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not installed: apt-get install e2fsprogs"

PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,uidmap,fuse-overlayfs,udev,kmod
PACKAGES+=,iproute2,procps,busybox-static,jq,bats,bats-assert,bats-support,libjansson4,libseccomp2,libcap2
PACKAGES+=,util-linux,e2fsprogs,ca-certificates
# Installed with apt in the chroot afterwards: debootstrap's resolver fails
# on podman's dependencies (golang-github-containers-common).
APT_PACKAGES="podman crun slirp4netns ${OCIRT_VM_PACKAGES:-}"

mirror=${OCIRT_VM_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

kernel=$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$kernel" ] || die "no /boot/vmlinuz-*-amd64: apt-get install linux-image-amd64"
kver=${kernel#/boot/vmlinuz-}
initrd=/boot/initrd.img-$kver
[ -r "$initrd" ] || die "no $initrd for $kernel"

key=$({
	cat "$0" "$here"/guest/*
	echo "$PACKAGES $APT_PACKAGES $mirror $kver"
	sha256sum "$kernel" "$initrd"
} | sha256sum | cut -c1-16)
out=$vm_dir/image-$key
if [ -f "$out/root.img" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$vm_dir"
exec 9>"$vm_dir/build.lock"
flock 9
if [ -f "$out/root.img" ]; then # built by a concurrent run meanwhile
	echo "$out"
	exit 0
fi

work=$vm_dir/build-$$
rootfs=$work/rootfs
cleanup() {
	for m in dev/pts dev sys proc; do
		mountpoint -q "$rootfs/$m" 2>/dev/null && umount -l "$rootfs/$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$rootfs"
echo "build-image.sh: debootstrap bookworm from $mirror (a few minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
if [ -n "${APT_PACKAGES// /}" ]; then
	echo "build-image.sh: apt-get install $APT_PACKAGES" >&2
	mount -t proc proc "$rootfs/proc"
	mount -t sysfs sys "$rootfs/sys"
	mount --bind /dev "$rootfs/dev"
	mount --bind /dev/pts "$rootfs/dev/pts"
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d" # start no services
	chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2086
	chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive sh -c \
		"apt-get update -q && apt-get install -y -q --no-install-recommends $APT_PACKAGES" >"$work/apt.log" 2>&1 ||
		{ tail -n 30 "$work/apt.log" >&2; die "apt-get install in the image failed (log above)"; }
	rm -f "$rootfs/usr/sbin/policy-rc.d"
	for m in dev/pts dev sys proc; do
		umount "$rootfs/$m"
	done
fi

# Modules the initrd does not carry that containers may need.
mkdir -p "$rootfs/lib/modules/$kver/kernel/drivers/net"
cp -a "/lib/modules/$kver/kernel/fs" "$rootfs/lib/modules/$kver/kernel/"
cp -a "/lib/modules/$kver/kernel/drivers/net/tun.ko"* "$rootfs/lib/modules/$kver/kernel/drivers/net/" 2>/dev/null || true
cp -a "/lib/modules/$kver/modules.order" "/lib/modules/$kver/modules.builtin"* "$rootfs/lib/modules/$kver/"
chroot "$rootfs" depmod "$kver"

echo ocirt-vm >"$rootfs/etc/hostname"
echo "/dev/vda / ext4 rw,relatime 0 1" >"$rootfs/etc/fstab"
chroot "$rootfs" useradd -m -u 1000 -s /bin/bash ocirt
echo "ocirt:100000:65536" >"$rootfs/etc/subuid"
echo "ocirt:100000:65536" >"$rootfs/etc/subgid"
mkdir -p "$rootfs/var/lib/systemd/linger"
touch "$rootfs/var/lib/systemd/linger/ocirt"
mkdir -p "$rootfs/etc/systemd/system/user@.service.d" "$rootfs/usr/local/lib/ocirt-vm"
install -m 0644 "$here/guest/delegate.conf" "$rootfs/etc/systemd/system/user@.service.d/delegate.conf"
install -m 0755 "$here/guest/boot.sh" "$rootfs/usr/local/lib/ocirt-vm/boot.sh"
install -m 0644 "$here/guest/ocirt-vm-test.service" "$rootfs/etc/systemd/system/ocirt-vm-test.service"
chroot "$rootfs" systemctl enable ocirt-vm-test.service >/dev/null 2>&1
# Nothing else at boot: no getty on the console the TAP goes to, no timers.
for u in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer \
	apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer podman-auto-update.timer; do
	chroot "$rootfs" systemctl mask "$u" >/dev/null 2>&1 || true
done
chmod 0666 "$rootfs/dev/fuse" 2>/dev/null || true
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*

truncate -s 3G "$work/root.img"
mkfs.ext4 -q -L ocirt-vm -d "$rootfs" "$work/root.img"
install -m 0644 "$kernel" "$work/vmlinuz"
install -m 0644 "$initrd" "$work/initrd.img"
mkdir -p "$out"
mv "$work/root.img" "$work/vmlinuz" "$work/initrd.img" "$out/"
for old in "$vm_dir"/image-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
echo "$out"
