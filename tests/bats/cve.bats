#!/usr/bin/env bats
# Regression tests for container-breakout CVE classes of OCI runtimes
# (issue 10): each sets up the attack a malicious image or config could
# make and asserts on what the container and the host see afterwards.
# Tests for CVE-2019-5736, CVE-2024-21626 and CVE-2019-16884 are in
# security.bats and mounts.bats.

load helpers

# ---- CVE-2025-52881: writes to /proc redirected by a mount ---------------------------------

# add_hook KIND SCRIPT: a hook running `sh -c SCRIPT` (a createContainer hook
# runs in the container's namespaces, after its mounts, before sysctls).
add_hook() {
	update_config '.hooks[$k] += [{path: "/bin/sh", args: ["sh", "-c", $s]}]' --arg k "$1" --arg s "$2"
}

@test "cve: CVE-2025-52881: a sysctl write never lands in a file a mount put over /proc/sys" {
	local fake=$BATS_TEST_TMPDIR/fake-sysctl
	echo 0 >"$fake"
	update_config '.linux.sysctl = {"kernel.shm_rmid_forced": "1"}'
	add_hook createContainer "mount --bind '$fake' /proc/sys/kernel/shm_rmid_forced"
	run_ctr cat /proc/sys/kernel/shm_rmid_forced
	# Either the runtime refuses, naming the file, or it wrote the kernel's
	# file; it never writes the file mounted over it.
	[ "$(cat "$fake")" = 0 ] || fail "the sysctl was written into the file mounted over /proc/sys: $(cat "$fake")"
	if [ "$status" -ne 0 ]; then
		assert_runtime_error 'shm_rmid_forced'
	else
		assert_output 1
	fi
	assert_no_containers
}

@test "cve: CVE-2025-52881: /proc a symlink to look-alike files does not receive the runtime's writes" {
	# The image's /proc is a symlink to a directory of fake proc files, and
	# a tmpfs goes on /proc through it; the sysctl is still written to the
	# kernel's file and the fakes are untouched.
	local r=$BUNDLE/rootfs
	rm -rf "$r/proc"
	mkdir -p "$r/fakeproc/sys/kernel" "$r/fakeproc/thread-self/attr"
	echo 0 >"$r/fakeproc/sys/kernel/shm_rmid_forced"
	echo none >"$r/fakeproc/thread-self/attr/exec"
	ln -s /fakeproc "$r/proc"
	update_config '.linux.sysctl = {"kernel.shm_rmid_forced": "1"}
		| .mounts |= map(select(.destination != "/proc"))
		| .mounts = [{destination: "/proc", type: "tmpfs", source: "tmpfs", options: ["mode=755"]}] + .mounts
		| .mounts += [{destination: "/realproc", type: "proc", source: "proc"}]'
	run_ctr cat /realproc/sys/kernel/shm_rmid_forced
	[ "$(cat "$r/fakeproc/sys/kernel/shm_rmid_forced")" = 0 ] || fail "a fake sysctl file was written"
	[ "$(cat "$r/fakeproc/thread-self/attr/exec")" = none ] || fail "a fake attr file was written"
	if [ "$status" -ne 0 ]; then
		assert_runtime_error 'proc'
	else
		assert_output 1
	fi
	assert_no_containers
}

@test "cve: CVE-2025-52881: an LSM label is never written through a fake /proc" {
	local field value
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
		field=apparmorProfile value=unconfined
	elif [ -e /sys/fs/selinux/enforce ]; then
		field=selinuxLabel value=$(cat /proc/self/attr/current | tr -d '\0')
	else
		skip "neither AppArmor nor SELinux is enabled: the runtime writes no LSM attribute here"
	fi
	local r=$BUNDLE/rootfs
	rm -rf "$r/proc"
	mkdir -p "$r/fakeproc/thread-self/attr/apparmor"
	echo none >"$r/fakeproc/thread-self/attr/exec"
	echo none >"$r/fakeproc/thread-self/attr/apparmor/exec"
	ln -s /fakeproc "$r/proc"
	update_config '.mounts |= map(select(.destination != "/proc"))
		| .mounts = [{destination: "/proc", type: "tmpfs", source: "tmpfs"}] + .mounts
		| .process[$f] = $v' --arg f "$field" --arg v "$value"
	run_ctr true
	[ "$(cat "$r/fakeproc/thread-self/attr/exec")" = none ] || fail "the label went into a fake attr file"
	[ "$(cat "$r/fakeproc/thread-self/attr/apparmor/exec")" = none ] || fail "the profile went into a fake attr file"
	assert_runtime_error '/proc'
	assert_no_containers
}

# proc_covered_holder: a process in a user and mount namespace of its own
# whose /proc is a tmpfs of look-alike files, as any process of a mount
# namespace a config joins by path may make it; sets HOLDER.
proc_covered_holder() {
	command -v unshare >/dev/null || skip "no unshare"
	unshare -Urm sh -c 'mount -t tmpfs tmpfs /proc && mkdir /proc/self &&
		echo 0 >/proc/self/oom_score_adj && echo none >/proc/self/timens_offsets && exec sleep 60' &
	HOLDER=$!
	BG_PIDS+=("$HOLDER")
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "/proc/$HOLDER/root/proc/self/timens_offsets" ] && return 0
		sleep 0.05
	done
	skip "unshare -Urm could not cover /proc with a tmpfs here"
}

@test "cve: CVE-2025-52881: oomScoreAdj and timeOffsets never go into a /proc covered in a joined mount namespace" {
	requires_ours "write oom_score_adj and timens_offsets only to the kernel's /proc"
	proc_covered_holder
	local fakes=/proc/$HOLDER/root/proc/self
	update_config 'del(.linux.uidMappings, .linux.gidMappings)
		| .linux.namespaces |= map(select(.type != "user" and .type != "mount"))
		| .linux.namespaces += [{type: "user", path: "/proc/\($h)/ns/user"}, {type: "mount", path: "/proc/\($h)/ns/mnt"}]
		| .process.oomScoreAdj = 500' --arg h "$HOLDER"
	run_ctr true
	[ "$(cat "$fakes/oom_score_adj")" = 0 ] || fail "oomScoreAdj was written into the tmpfs over /proc"
	assert_runtime_error 'oomScoreAdj' '/proc is not the root of a proc file system'
	assert_no_containers
	[ -e /proc/self/ns/time ] || skip "no time namespaces on this kernel"
	update_config 'del(.process.oomScoreAdj) | .linux.namespaces += [{type: "time"}]
		| .linux.timeOffsets = {monotonic: {secs: 86400, nanosecs: 0}}'
	run_ctr true
	[ "$(cat "$fakes/timens_offsets")" = none ] || fail "timeOffsets were written into the tmpfs over /proc"
	assert_runtime_error 'timeOffsets' '/proc is not the root of a proc file system'
	assert_no_containers
}

# ---- CVE-2025-31133: masked paths bound from a /dev/null that is not one -------------------

# mask_probe: process.args printing the masked /opt/secretfile's type and
# device, how many bytes a read gives, and whether a write succeeded.
mask_probe() {
	# shellcheck disable=SC2016
	set_args sh -c 'echo "type $(stat -c "%F %t:%T" /opt/secretfile)"
		echo "read $(cat /opt/secretfile | wc -c)"
		echo pwned >/opt/secretfile && echo "write ok"'
}

@test "cve: CVE-2025-31133: a masked path shows the null device even when /dev/null is covered" {
	# A createContainer hook (run in the container's mount namespace before
	# the paths are masked) covers /dev/null with a writable file.
	local fake=$BATS_TEST_TMPDIR/fake-null
	echo decoy >"$fake"
	mkdir -p "$BUNDLE/rootfs/opt"
	echo secret >"$BUNDLE/rootfs/opt/secretfile"
	update_config '.linux.maskedPaths += ["/opt/secretfile"]'
	add_hook createContainer "mount --bind '$fake' /dev/null"
	mask_probe
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	[ "$(cat "$fake")" = decoy ] || fail "a write to the masked path reached the file over /dev/null: $(cat "$fake")"
	[ "$(cat "$BUNDLE/rootfs/opt/secretfile")" = secret ] || fail "the masked file was written"
	if [ "$status" -ne 0 ]; then
		assert_runtime_error 'secretfile|/dev/null'
	else
		assert_line 'type character special file 1:3'
		assert_line 'read 0'
		assert_line 'write ok'
		refute_output --partial decoy
	fi
	assert_no_containers
}

@test "cve: CVE-2025-31133: the image's /dev/null as a symlink is never what masks a path" {
	# No /dev tmpfs: the image's own /dev stays, and its null is a symlink
	# to a file of the rootfs (or to core_pattern).
	local r=$BUNDLE/rootfs target
	mkdir -p "$r/opt"
	echo secret >"$r/opt/secretfile"
	echo decoy >"$r/opt/decoy"
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))
		| .linux.maskedPaths += ["/opt/secretfile"]'
	for target in /opt/decoy /proc/sys/kernel/core_pattern; do
		rm -f "$r/dev/null"
		ln -s "$target" "$r/dev/null"
		mask_probe
		run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
		[ "$(cat "$r/opt/decoy")" = decoy ] || fail "/dev/null -> $target: the decoy was written"
		[ "$(cat "$r/opt/secretfile")" = secret ] || fail "/dev/null -> $target: the masked file was written"
		if [ "$status" -ne 0 ]; then
			assert_runtime_error 'secretfile|/dev/null'
		else
			assert_line 'type character special file 1:3'
			assert_line 'read 0'
			refute_output --partial decoy
			refute_output --partial core
		fi
		assert_no_containers
	done
}

# ---- CVE-2025-52565: the /dev/console bind redirected ---------------------------------------

# console_create: create $CID with terminal true and a recvtty console
# socket; the process prints what core_pattern is. Sets status and stderr.
console_create() {
	local sock=$BATS_TEST_TMPDIR/console.sock
	update_config '.process.terminal = true'
	set_args sh -c 'stat -c "%F" /proc/sys/kernel/core_pattern'
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/tty.out"
	run_detached create --console-socket "$sock" --bundle "$BUNDLE" "$CID"
}

# no_dev_tmpfs DEVDIR: the config keeps the image's /dev (no tmpfs), with
# a devpts on DEVDIR/pts and DEVDIR/ptmx pointing into it.
no_dev_tmpfs() {
	mkdir -p "$1/pts"
	ln -sfn pts/ptmx "$1/ptmx"
	update_config '.mounts |= map(select(.destination == "/dev/pts" or (.destination | startswith("/dev") | not)))'
}

@test "cve: CVE-2025-52565: /dev/console a symlink to core_pattern never gets the pty" {
	local r=$BUNDLE/rootfs
	no_dev_tmpfs "$r/dev"
	rm -f "$r/dev/console"
	ln -s /proc/sys/kernel/core_pattern "$r/dev/console"
	console_create
	if [ "$status" -ne 0 ]; then
		assert_runtime_error '/dev/console'
	else
		TRACKED_PIDS+=("$(state_field "$CID" .pid)")
		runtime start "$CID" || fail "start failed"
		wait_recvtty
		run tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out"
		refute_output --partial 'character special'
	fi
	[ -L "$r/dev/console" ] || fail "the image's /dev/console symlink was replaced"
	runtime delete --force "$CID" >/dev/null 2>&1 || true
	assert_no_containers
}

@test "cve: CVE-2025-52565: /dev a symlink to a host directory: no console is made or bound there" {
	# The image's /dev points at a bind-mounted host directory; following
	# it would create and bind the console on the host's files.
	local r=$BUNDLE/rootfs host=$BATS_TEST_TMPDIR/hostvol before
	mkdir -p "$host"
	echo marker >"$host/marker"
	no_dev_tmpfs "$host"
	rm -rf "$r/dev"
	ln -s /vol "$r/dev"
	# the host directory first: the devpts goes on top of it
	update_config '.mounts = [{destination: "/vol", type: "none", source: $h, options: ["rbind"]}]
		+ (.mounts | map(if .destination == "/dev/pts" then .destination = "/vol/pts" else . end))' --arg h "$host"
	before=$(ls -A "$host")
	console_create
	if [ "$status" -ne 0 ]; then
		assert_runtime_error '/dev'
	else
		TRACKED_PIDS+=("$(state_field "$CID" .pid)")
		runtime delete --force "$CID" >/dev/null 2>&1 || true
	fi
	[ "$(ls -A "$host")" = "$before" ] || fail "the host directory changed: $(ls -A "$host")"
	assert_no_containers
}

# ---- CVE-2021-30465: mount destinations redirected by symlinks -------------------------------

# host_marker_dir: HOST, a host directory with a marker file, bind-mounted
# at /hostview (last in the mounts list): the container sees the marker
# there unless an earlier mount landed on HOST itself.
host_marker_dir() {
	HOST=$BATS_TEST_TMPDIR/hostdir
	mkdir -p "$HOST"
	echo host-marker >"$HOST/marker"
}

# assert_host_intact: the host directory has exactly its marker.
assert_host_intact() {
	[ "$(ls -A "$HOST")" = marker ] || fail "the host directory changed: $(ls -A "$HOST")"
	[ "$(cat "$HOST/marker")" = host-marker ] || fail "the host marker changed"
}

@test "cve: CVE-2021-30465: a mount destination that is a symlink to a host directory stays in the rootfs" {
	host_marker_dir
	local r=$BUNDLE/rootfs
	# The image has the symlinks' targets too, so that resolving them
	# inside the rootfs succeeds and the runtime goes on to mount.
	mkdir -p "$r$HOST"
	ln -s "$HOST" "$r/evil-abs"
	ln -s "../../../../../../../../../../../../..$HOST" "$r/evil-rel"
	update_config '.mounts += [{destination: "/evil-abs", type: "tmpfs", source: "tmpfs"},
		{destination: "/evil-rel", type: "tmpfs", source: "tmpfs"},
		{destination: "/hostview", type: "none", source: $h, options: ["rbind"]}]' --arg h "$HOST"
	run_ctr sh -c 'cat /hostview/marker; touch /evil-abs/x /evil-rel/y && echo wrote'
	# create may refuse the destination; it must never mount on the host
	if [ "$status" -eq 0 ]; then
		assert_line host-marker
		assert_line wrote
	else
		assert_runtime_error 'evil'
	fi
	assert_host_intact
	assert_no_containers
}

# start_exchanger NAME-A NAME-B SECONDS: in the background, swap two names with renameat2
# RENAME_EXCHANGE in a loop, at most SECONDS and 50 million times.
start_exchanger() {
	cat >"$BATS_TEST_TMPDIR/exchange.py" <<-'PY'
		import ctypes, os, sys, time
		libc = ctypes.CDLL(None, use_errno=True)
		AT_FDCWD, RENAME_EXCHANGE = -100, 2
		a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
		end = time.monotonic() + float(sys.argv[3])
		n = 0
		# one line: <<- strips every leading tab, so no indented block
		while n < 50_000_000 and time.monotonic() < end: libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE); n += 1
		sys.exit(0 if n > 0 else 1)
	PY
	timeout "$(($3 + 5))" python3 "$BATS_TEST_TMPDIR/exchange.py" "$1" "$2" "$3" </dev/null >/dev/null 2>&1 3>&- &
	BG_PIDS+=("$!")
}

@test "cve: CVE-2021-30465: racing a destination between a directory and a host symlink never mounts on the host" {
	host_marker_dir
	local r=$BUNDLE/rootfs iter ok=0 failed=0 deadline
	mkdir -p "$r/evil" "$r$HOST"
	ln -s "$HOST" "$r/evil-swap"
	update_config '.mounts += [{destination: "/evil", type: "tmpfs", source: "tmpfs"},
		{destination: "/hostview", type: "none", source: $h, options: ["rbind"]}]' --arg h "$HOST"
	set_args sh -c 'cat /hostview/marker; ls -A /hostview'
	start_exchanger "$r/evil" "$r/evil-swap" 45
	deadline=$((SECONDS + 40))
	for ((iter = 0; iter < 30 && SECONDS < deadline; iter++)); do
		run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
		if [ "$status" -eq 0 ]; then
			ok=$((ok + 1))
			[ "$output" = "host-marker
marker" ] || fail "iteration $iter: a mount landed on the host directory: the container sees '$output'"
		else
			failed=$((failed + 1))
			echo "# $stderr" >&3
			runtime delete --force "$CID" >/dev/null 2>&1 || true
		fi
		assert_host_intact
	done
	echo "# $ok runs succeeded, $failed failed" >&3
	[ "$ok" -gt 0 ] || fail "no run succeeded during the race: $stderr"
	assert_no_containers
}
