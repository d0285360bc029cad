# shellcheck shell=bash
# bench/lib.sh: shared by run.sh, measure.sh and profile.sh (sourced).
#
# The bundle: a busybox-static rootfs and config.json files written with jq
# so the fixture does not depend on any runtime under test. The config is
# what `runc spec --rootless` writes (ociVersion 1.0.2-dev, because crun
# 1.8.1 rejects 1.2.0), with terminal false, the given args, an absolute
# root.path (runc refuses a symlinked one) and hostname "bench". The same
# files are used by every runtime.

bench_die() { echo "bench: $*" >&2; exit 1; }
bench_note() { echo "bench: $*" >&2; }

# bench_rootfs DIR: busybox-static with one symlink per applet.
bench_rootfs() {
	local r=$1 bb="" app
	for bb in /bin/busybox /usr/bin/busybox ""; do
		[ -n "$bb" ] && [ -x "$bb" ] && break
	done
	[ -n "$bb" ] || bench_die "busybox not found (apt-get install busybox-static)"
	if command -v file >/dev/null && file -L "$bb" | grep -q 'dynamically linked'; then
		bench_die "$bb is dynamically linked; install busybox-static"
	fi
	mkdir -p "$r"/{bin,proc,sys,dev,etc,root,tmp,run}
	cp "$bb" "$r/bin/busybox"
	for app in $("$bb" --list); do
		[ "$app" = busybox ] || ln -sf busybox "$r/bin/$app"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}

# bench_config OUT ROOTFS USERNS ARGS_JSON
#   USERNS=yes: runc spec --rootless (user namespace, single-id maps).
#   USERNS=no:  the same without the user namespace and without maps
#               (only ocirt-rootless runs that rootless: it maps the
#               subordinate range through newuidmap/newgidmap).
bench_config() {
	local out=$1 rootfs=$2 userns=$3 args=$4
	jq -n --argjson uid "$(id -u)" --argjson gid "$(id -g)" --arg rootfs "$rootfs" \
		--argjson args "$args" --arg userns "$userns" '
{
  ociVersion: "1.0.2-dev",
  process: {
    terminal: false,
    user: {uid: 0, gid: 0},
    args: $args,
    env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
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
  root: {path: $rootfs, readonly: true},
  hostname: "bench",
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
     options: ["rbind", "nosuid", "noexec", "nodev", "ro"]},
    {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
     options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  linux: ({
    uidMappings: [{containerID: 0, hostID: $uid, size: 1}],
    gidMappings: [{containerID: 0, hostID: $gid, size: 1}],
    namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "user"}],
    maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  } | if $userns == "yes" then . else
        del(.uidMappings, .gidMappings) | .namespaces |= map(select(.type != "user")) end)
}' >"$out.tmp" && mv "$out.tmp" "$out"
}

# bench_bundles WORKDIR: WORKDIR/rootfs and the bundles
#   b-true     /bin/true                (all runtimes)
#   b-sleep    sleep 1000000            (exec target, library count)
#   b-check    prints uid_map + status  (sanity check before measuring)
#   b-nouserns /bin/true, no user namespace in the config (ours only)
bench_bundles() {
	local w=$1
	bench_rootfs "$w/rootfs"
	mkdir -p "$w/b-true" "$w/b-sleep" "$w/b-check" "$w/b-nouserns"
	bench_config "$w/b-true/config.json" "$w/rootfs" yes '["/bin/true"]'
	bench_config "$w/b-sleep/config.json" "$w/rootfs" yes '["/bin/sleep","1000000"]'
	bench_config "$w/b-check/config.json" "$w/rootfs" yes \
		'["/bin/sh","-c","read a b c </proc/self/uid_map; echo uidmap=$a:$b:$c; hostname"]'
	bench_config "$w/b-nouserns/config.json" "$w/rootfs" no '["/bin/true"]'
}
