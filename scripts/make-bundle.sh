#!/usr/bin/env bash
# make-bundle.sh [--rootfs-only|--config-only] DIR
#
# Make an OCI bundle from busybox-static in DIR: DIR/rootfs (busybox plus one
# symlink per applet, a minimal /etc) and DIR/config.json (runtime-spec 1.0,
# rootless: user namespace mapping container 0 to the caller).
# The config is written with jq, so the fixture does not depend on the
# runtime under test. Works as an unprivileged user.
set -euo pipefail

die() { echo "make-bundle.sh: $*" >&2; exit 1; }

what=all
case "${1:-}" in
--rootfs-only) what=rootfs; shift ;;
--config-only) what=config; shift ;;
-h | --help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
[ $# -eq 1 ] || die "usage: make-bundle.sh [--rootfs-only|--config-only] DIR"
dir=$1

BUSYBOX=${BUSYBOX:-}
if [ -z "$BUSYBOX" ]; then
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] && BUSYBOX=$b && break
	done
fi
command -v jq >/dev/null || die "jq not found (run scripts/install-deps.sh as root)"

make_rootfs() {
	local r=$1
	[ -n "$BUSYBOX" ] || die "busybox not found (install busybox-static)"
	# A dynamically linked busybox would not run inside the rootfs.
	if command -v file >/dev/null && file -L "$BUSYBOX" | grep -q 'dynamically linked'; then
		die "$BUSYBOX is dynamically linked; install busybox-static"
	fi
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,home,var,run}
	install -d -m 1777 "$r/tmp"
	install -m 0755 "$BUSYBOX" "$r/bin/busybox"
	local app
	# `busybox --list` prints applet names; put each in /bin as a symlink.
	for app in $("$BUSYBOX" --list); do
		[ "$app" = busybox ] && continue
		[ -e "$r/bin/$app" ] || ln -s busybox "$r/bin/$app"
	done
	cat >"$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
	cat >"$r/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
	echo ocirt >"$r/etc/hostname"
	: >"$r/etc/resolv.conf"
	: >"$r/etc/hosts"
	chmod 0700 "$r/root"
}

make_config() {
	local out=$1 uid gid
	uid=$(id -u)
	gid=$(id -g)
	jq -n --argjson uid "$uid" --argjson gid "$gid" '{
  ociVersion: "1.0.2",
  process: {
    terminal: false,
    user: {uid: 0, gid: 0},
    args: ["sh"],
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "TERM=xterm", "HOME=/root"],
    cwd: "/",
    capabilities: {
      bounding: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      effective: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      permitted: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      ambient: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
    noNewPrivileges: true
  },
  root: {path: "rootfs", readonly: false},
  hostname: "ocirt",
  mounts: [
    {destination: "/proc", type: "proc", source: "proc"},
    {destination: "/dev", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {destination: "/dev/pts", type: "devpts", source: "devpts",
     options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {destination: "/dev/shm", type: "tmpfs", source: "shm",
     options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
     options: ["nosuid", "noexec", "nodev"]},
    {destination: "/sys", type: "none", source: "/sys",
     options: ["rbind", "nosuid", "noexec", "nodev", "ro"]}
  ],
  linux: {
    uidMappings: [{containerID: 0, hostID: $uid, size: 1}],
    gidMappings: [{containerID: 0, hostID: $gid, size: 1}],
    namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"},
                 {type: "mount"}, {type: "user"}],
    maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
      "/proc/sysrq-trigger"]
  }
}' >"$out.tmp"
	mv "$out.tmp" "$out"
}

mkdir -p "$dir"
case $what in
all) make_rootfs "$dir/rootfs"; make_config "$dir/config.json" ;;
rootfs) make_rootfs "$dir/rootfs" ;;
config) make_config "$dir/config.json" ;;
esac
