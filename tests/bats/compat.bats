#!/usr/bin/env bats
# Old kernels and valgrind: without openat2 (ENOSYS: kernels < 5.6, or
# valgrind, which does not know the syscall) every path in the rootfs goes
# through the user-space walk of src/resolve.c. The hostile-symlink and
# mount scenarios of hostile.bats, mounts.bats and security.bats run under
# tests/tools/no-openat2 (a seccomp filter: openat2 -> ENOSYS) and must give
# what they give with openat2: no escape, the same errors. Then the
# runtime's own commands under valgrind.

load helpers
load hostile-helpers

compat_setup() {
	[ "$OCIRT_IS_OURS" = 1 ] || skip "the openat2 fallback is ocirt-rootless's"
	[ -n "${OCIRT_NO_OPENAT2:-}" ] && [ -x "$OCIRT_NO_OPENAT2" ] ||
		skip "tests/tools/no-openat2 not built (make check builds it; run-tests.sh exports OCIRT_NO_OPENAT2)"
}

eval "_hostile_$(declare -f setup)"
setup() {
	_hostile_setup
	compat_setup
}

# old_runtime ARGS...: the runtime as on a kernel without openat2.
old_runtime() {
	timeout --kill-after=5 "$OCIRT_TIMEOUT" "$OCIRT_NO_OPENAT2" "$OCIRT" --root "$ROOT" "$@"
}

# old_run_ctr ARG...: run_ctr without openat2.
old_run_ctr() {
	set_args "$@"
	run --separate-stderr old_runtime run --bundle "$BUNDLE" "$CID" </dev/null
	[ -z "$stderr" ] || printf '# stderr of run %s (status %s):\n%s\n' "$*" "$status" "$stderr"
}

# same_refusal VERB: `VERB --bundle $BUNDLE $CID` fails with and without
# openat2, with the same one-line error, leaving nothing; the error is left
# in $stderr for more checks.
same_refusal() {
	local verb=$1 with
	run_detached "$verb" --bundle "$BUNDLE" "$CID"
	assert_runtime_error .
	with=$stderr
	assert_nothing_left
	status=0
	old_runtime "$verb" --bundle "$BUNDLE" "$CID" </dev/null >"$BATS_TEST_TMPDIR/old.out" \
		2>"$BATS_TEST_TMPDIR/old.err" || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/old.out")
	stderr=$(cat "$BATS_TEST_TMPDIR/old.err")
	assert_runtime_error .
	[ "$stderr" = "$with" ] || fail "without openat2: '$stderr'; with openat2: '$with'"
	assert_nothing_left
}

@test "compat: no-openat2 really makes openat2 fail with ENOSYS" {
	command -v python3 >/dev/null || skip "python3 not installed (used to call openat2 directly)"
	local probe='import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
how = (ctypes.c_uint64 * 3)(os.O_PATH, 0, 0)
r = libc.syscall(437, -100, b"/", ctypes.byref(how), 24)
print(r if r >= 0 else -ctypes.get_errno())'
	run python3 -c "$probe"
	assert_success
	[ "$output" -ge 0 ] || skip "this kernel has no openat2 either ($output)"
	run "$OCIRT_NO_OPENAT2" python3 -c "$probe"
	assert_success
	assert_output "-38" # ENOSYS
}

@test "compat: a mount through a rootfs symlink to /etc stays in the rootfs" {
	ln -s /etc "$BUNDLE/rootfs/etc2"
	local before
	before=$(ls -A /etc | sha256sum)
	add_mount /etc2/ocirt-x tmpfs tmpfs size=64k
	old_run_ctr sh -c 'echo pwned > /etc2/ocirt-x/file && grep -c " /etc/ocirt-x " /proc/self/mountinfo'
	assert_success
	assert_output 1
	[ ! -e /etc/ocirt-x ] || fail "host /etc/ocirt-x exists"
	[ "$(ls -A /etc | sha256sum)" = "$before" ] || fail "host /etc has new entries"
	[ -d "$BUNDLE/rootfs/etc/ocirt-x" ] || fail "mount point was not made inside the rootfs"
	assert_nothing_left
}

@test "compat: a relative symlink climbing out of the rootfs is clamped at its root" {
	local host=$BATS_TEST_TMPDIR/hostdir
	mkdir "$host"
	# ../../../.. from /up reaches the host above the bundle without the clamp
	ln -s "../../../../../../../../..$host" "$BUNDLE/rootfs/up"
	mkdir -p "$BUNDLE/rootfs$host" # what /up must reach: a missing one is ENOENT with openat2 too
	add_mount /up/x tmpfs tmpfs size=64k
	old_run_ctr sh -c "grep -c ' $host/x ' /proc/self/mountinfo"
	assert_success
	assert_output 1
	[ ! -e "$host/x" ] || fail "the mount point was made on the host: $host/x"
	[ -d "$BUNDLE/rootfs$host/x" ] || fail "mount point was not made inside the rootfs"
	assert_nothing_left
}

@test "compat: the bind destination is created when missing" {
	local d=$BATS_TEST_TMPDIR/hostdir
	mkdir "$d"
	echo x >"$d/f"
	add_mount /new/deep/dir none "$d" rbind
	old_run_ctr cat /new/deep/dir/f
	assert_success
	assert_output x
	assert_nothing_left
}

@test "compat: a file can be bind-mounted onto a file" {
	echo "hello file" >"$BATS_TEST_TMPDIR/hostfile"
	add_mount /etc/motd none "$BATS_TEST_TMPDIR/hostfile" rbind ro
	old_run_ctr cat /etc/motd
	assert_success
	assert_output "hello file"
	assert_nothing_left
}

@test "compat: a mount destination with .. is refused the same way" {
	add_mount /tmp/../../../etc/x tmpfs tmpfs
	same_refusal create
	assert_stderr_contains ".."
}

@test "compat: a mount over /proc/sys through a rootfs symlink is refused the same way" {
	ln -s /proc "$BUNDLE/rootfs/p"
	add_mount /p/sys tmpfs tmpfs
	same_refusal create
	assert_stderr_contains "inside /proc"
}

@test "compat: a mount over /proc/self is refused the same way" {
	add_mount /proc/self tmpfs tmpfs
	same_refusal create
	assert_stderr_contains "inside /proc"
}

@test "compat: a symlink loop as a mount destination is refused the same way" {
	ln -s loop2 "$BUNDLE/rootfs/loop1"
	ln -s loop1 "$BUNDLE/rootfs/loop2"
	add_mount /loop1/x tmpfs tmpfs
	same_refusal create
	assert_stderr_contains "symbolic links"
}

@test "compat: /dev/null replaced by a symlink to a host file, /dev not a tmpfs" {
	local victim=$BATS_TEST_TMPDIR/hostfile
	echo untouched >"$victim"
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))'
	mkdir -p "$BUNDLE/rootfs/dev"
	ln -sf "$victim" "$BUNDLE/rootfs/dev/null"
	old_run_ctr sh -c 'echo pwned > /dev/null; echo pwned >> /dev/null; echo ran'
	run cat "$victim"
	assert_output untouched
	grep -q " $victim " /proc/self/mountinfo && fail "host file was mounted over"
	assert_nothing_left
}

@test "compat: process.cwd through a rootfs symlink to a host directory" {
	local hostdir=$BATS_TEST_TMPDIR/hostdir
	mkdir "$hostdir"
	echo host >"$hostdir/only-on-host"
	ln -s "$hostdir" "$BUNDLE/rootfs/work"
	mkdir -p "$BUNDLE/rootfs$hostdir" # else ENOENT, with openat2 too
	update_config '.process.cwd = "/work"'
	old_run_ctr sh -c 'ls -A; readlink /proc/self/cwd'
	assert_success
	refute_output --partial only-on-host
	assert_output "$hostdir"
	run ls -A "$hostdir"
	assert_output only-on-host
	assert_nothing_left
}

@test "compat: process.cwd through /proc/self/fd cannot reach a host directory" {
	# CVE-2024-21626 with the user-space walk: /proc/self/fd/N is a magic
	# link, refused as RESOLVE_NO_MAGICLINKS refuses it.
	local host=$BATS_TEST_TMPDIR/hostdir n
	mkdir -p "$host"
	echo secret >"$host/host-secret"
	for n in 3 4 5 6 7 8 9 10; do
		update_config '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		set_args sh -c 'ls; readlink /proc/self/cwd'
		run --separate-stderr old_runtime run --bundle "$BUNDLE" "$CID" </dev/null 3<"$host"
		[[ "$output" != *host-secret* ]] || fail "cwd /proc/self/fd/$n: the container sees the host directory: $output"
		[[ "$output" != *"$host"* ]] || fail "cwd /proc/self/fd/$n: the container's cwd is $output"
		old_runtime delete --force "$CID" >/dev/null 2>&1 || true
	done
	# and the error is the one openat2 gives
	update_config '.process.cwd = "/proc/self/cwd"'
	set_args true
	same_refusal run
	assert_stderr_contains "magic link"
}

@test "compat: oomScoreAdj and a sysctl are written to /proc without openat2" {
	update_config '.process.oomScoreAdj = 500 | .linux.sysctl = {"kernel.shm_rmid_forced": "1"}'
	old_run_ctr sh -c 'cat /proc/self/oom_score_adj /proc/sys/kernel/shm_rmid_forced'
	assert_success
	assert_output $'500\n1'
}

# ---- images ------------------------------------------------------------------

# old_bundle ARGS...: `bundle` as on a kernel without openat2. no-openat2's
# filter sets no_new_privs, under which setuid or capable id-map helpers
# gain nothing: a PATH without them gives the single-id map (one warning).
old_bundle() {
	local empty=$BATS_TEST_TMPDIR/empty
	mkdir -p "$empty"
	timeout --kill-after=5 60 env PATH="$empty" "$OCIRT_NO_OPENAT2" "$OCIRT" --root "$ROOT" bundle "$@"
}

# old_console_create: create $CID without openat2, terminal true, with a
# recvtty console socket. Sets status (stderr in $BATS_TEST_TMPDIR/old.err).
old_console_create() {
	local sock=$BATS_TEST_TMPDIR/console.sock
	update_config '.process.terminal = true'
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/tty.out"
	status=0
	old_runtime create --console-socket "$sock" --bundle "$BUNDLE" "$CID" </dev/null \
		>/dev/null 2>"$BATS_TEST_TMPDIR/old.err" || status=$?
}

@test "compat: a terminal's /dev/console is bound without openat2" {
	set_args sh -c 'stat -c "%t:%T" /dev/console "$(tty)" 2>&1'
	old_console_create
	[ "$status" -eq 0 ] || fail "create without openat2: $(cat "$BATS_TEST_TMPDIR/old.err")"
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	runtime start "$CID" || fail "start failed"
	wait_recvtty
	run tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out"
	[ "${#lines[@]}" -eq 2 ] || fail "stat output: $output"
	[ "${lines[0]}" = "${lines[1]}" ] || fail "/dev/console is ${lines[0]}, the pty is ${lines[1]}"
}

@test "compat: a /dev/console symlink is refused without openat2 too" {
	local r=$BUNDLE/rootfs
	# the image's /dev, not a tmpfs, with a devpts of its own
	mkdir -p "$r/dev/pts"
	ln -sfn pts/ptmx "$r/dev/ptmx"
	update_config '.mounts |= map(select(.destination == "/dev/pts" or (.destination | startswith("/dev") | not)))'
	rm -f "$r/dev/console"
	ln -s /proc/sys/kernel/core_pattern "$r/dev/console"
	set_args true
	old_console_create
	[ "$status" -ne 0 ] || fail "create without openat2 bound the pty through a /dev/console symlink"
	grep -q '/dev/console is a symlink' "$BATS_TEST_TMPDIR/old.err" ||
		fail "error: $(cat "$BATS_TEST_TMPDIR/old.err")"
	[ -L "$r/dev/console" ] || fail "the image's /dev/console symlink was replaced"
	assert_nothing_left
}

@test "compat: bundle --image without openat2 verifies and unpacks the layers" {
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim next to $OCIRT would be tried"
	local img=$BATS_TEST_TMPDIR/image cache=$BATS_TEST_TMPDIR/cache ib=$BATS_TEST_TMPDIR/ib layers l
	"$SCRIPTS_DIR/make-oci-image.sh" "$img"
	run --separate-stderr old_bundle --image "$img" --cache "$cache" "$ib"
	assert_success
	[ -z "$(grep -v 'mapping only your own id' <<<"$stderr")" ] || fail "unexpected stderr: $stderr"
	layers=$(jq -r '.annotations["run.oci.ocirt.layers"]' "$ib/config.json")
	[ "$(tr ':' '\n' <<<"$layers" | grep -c .)" -eq 3 ] || fail "not 3 layers: $layers"
	l=${layers%%:*}
	[ "$(cat "$l/top")" = layer3 ] || fail "the top layer was not unpacked: $(ls -la "$l")"
	[ -x "${layers##*:}/bin/busybox" ] || fail "the bottom layer was not unpacked"
	# the layout's blobs are opened without following a symlink there
	local img2=$BATS_TEST_TMPDIR/image2 m
	cp -r "$img" "$img2"
	m=$(jq -r '.manifests[0].digest' "$img2/index.json")
	mv "$img2/blobs/sha256/${m#sha256:}" "$img2/manifest"
	ln -s ../../manifest "$img2/blobs/sha256/${m#sha256:}"
	run --separate-stderr old_bundle --image "$img2" --cache "$cache" "$BATS_TEST_TMPDIR/ib2"
	assert_failure
	grep -q "blob $m: .*Too many levels of symbolic links" <<<"$stderr" || fail "a symlinked blob was read: $stderr"
}

@test "compat: bundle --image without openat2: layer entries still cannot leave the layer" {
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim next to $OCIRT would be tried"
	local cache=$BATS_TEST_TMPDIR/cache outside=$BATS_TEST_TMPDIR/outside img
	mkdir "$outside"
	img=$BATS_TEST_TMPDIR/evil-symlink
	"$SCRIPTS_DIR/make-oci-image.sh" --evil symlink --evil-target "$outside" "$img"
	run --separate-stderr old_bundle --image "$img" --cache "$cache" "$BATS_TEST_TMPDIR/ib1"
	[ -z "$(ls -A "$outside")" ] || fail "an entry was written through the symlink: $(ls -la "$outside")"
	if [ "$status" -ne 0 ]; then
		grep -q 'entry `lnk/file`.*refused.*inside the layer' <<<"$stderr" || fail "unexpected error: $stderr"
	fi
	img=$BATS_TEST_TMPDIR/evil-dotdot
	"$SCRIPTS_DIR/make-oci-image.sh" --evil dotdot "$img"
	run --separate-stderr old_bundle --image "$img" --cache "$cache" "$BATS_TEST_TMPDIR/ib2"
	assert_failure
	grep -q 'entry `../escape`.*refused' <<<"$stderr" || fail "unexpected error: $stderr"
	[ ! -e "$cache/escape" ] && [ ! -e "$cache/layers/escape" ] && [ ! -e "$cache/layers/sha256/escape" ]
}

# ---- valgrind -----------------------------------------------------------------

# vg ARGS...: the runtime under valgrind (which answers ENOSYS for openat2);
# its report in $BATS_TEST_TMPDIR/vg.log (`run` is a subshell: one name,
# overwritten by each run). Forks (the container init) run
# under valgrind too but silently: the runtime itself is what is checked.
vg() {
	timeout --kill-after=5 60 valgrind --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --trace-children=no --child-silent-after-fork=yes \
		--log-file="$BATS_TEST_TMPDIR/vg.log" "$OCIRT" --root "$ROOT" "$@"
}

# assert_vg_clean: the last vg run reported no error and no definite leak.
assert_vg_clean() {
	local log=$BATS_TEST_TMPDIR/vg.log
	if grep -qE 'definitely lost: [1-9]|Invalid (read|write|free)|uninitialised|Syscall param' "$log"; then
		fail "valgrind: $(cat "$log")"
	fi
	grep -q 'ERROR SUMMARY: 0 errors' "$log" || fail "valgrind: $(cat "$log")"
}

vg_setup() {
	command -v valgrind >/dev/null || skip "valgrind not installed (apt-get install valgrind)"
	# ASan and valgrind cannot share a process: check-asan's build is
	# checked by its own sanitizers, the plain build by valgrind
	if ldd "$OCIRT" 2>/dev/null | grep -q 'libasan'; then
		skip "runtime built with ASan: valgrind runs on the plain build (make check)"
	fi
}

@test "compat: spec, state of nothing, list and check are valgrind-clean" {
	vg_setup
	mkdir "$BATS_TEST_TMPDIR/spec"
	run vg spec --rootless -b "$BATS_TEST_TMPDIR/spec"
	assert_success
	assert_vg_clean
	[ -s "$BATS_TEST_TMPDIR/spec/config.json" ] || fail "no config.json written"
	run vg list
	assert_success
	assert_vg_clean
	run vg state nosuch
	[ "$status" -eq 1 ] || fail "state of a missing container: status $status"
	assert_vg_clean
	# check (doctor) reports problems of the host with a non-zero status;
	# only valgrind's verdict matters here
	run vg check --bundle "$BUNDLE"
	[ "$status" -ne 99 ] || fail "valgrind errors in check"
	assert_vg_clean
}

@test "compat: create, start, state, delete are valgrind-clean (openat2 fallback)" {
	vg_setup
	set_args sh -c 'echo done >/tmp/ran'
	# valgrind keeps the top file descriptors for itself and shows the
	# program a lower RLIMIT_NOFILE hard limit, so the fixture's 1024/1024
	# would be refused (EPERM) under valgrind only
	update_config 'del(.process.rlimits)'
	# not `run`: the container init (a fork) keeps its stdio, and `run`
	# would wait for the end of that pipe until start
	status=0
	vg create --bundle "$BUNDLE" "$CID" </dev/null >"$BATS_TEST_TMPDIR/create.out" \
		2>"$BATS_TEST_TMPDIR/create.err" || status=$?
	[ "$status" -eq 0 ] || fail "create under valgrind: status $status: $(cat "$BATS_TEST_TMPDIR/create.err")"
	assert_vg_clean
	run vg state "$CID"
	assert_success
	assert_vg_clean
	assert_output --partial '"status": "created"'
	run vg start "$CID"
	assert_success
	assert_vg_clean
	# the process ran, natively (valgrind does not follow the exec)
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(runtime state "$CID" | jq -r .status)" = stopped ] && break
		sleep 0.1
	done
	[ -f "$BUNDLE/rootfs/tmp/ran" ] || fail "the container process did not run"
	run vg list
	assert_success
	assert_vg_clean
	run vg delete --force "$CID"
	assert_success
	assert_vg_clean
	assert_nothing_left
}

@test "compat: the container init's mount calls are valgrind-clean" {
	vg_setup
	update_config 'del(.process.rlimits)'
	set_args true
	# every process of the runtime under valgrind, each with its own log:
	# the container init is a fork, and the one that mounts
	run --separate-stderr timeout --kill-after=5 60 valgrind --trace-children=no --child-silent-after-fork=no \
		--log-file="$BATS_TEST_TMPDIR/vg.%p.log" "$OCIRT" --root "$ROOT" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	[ "$(ls "$BATS_TEST_TMPDIR"/vg.*.log | wc -l)" -ge 2 ] || fail "valgrind did not follow the forks"
	if grep -l 'Syscall param mount' "$BATS_TEST_TMPDIR"/vg.*.log >/dev/null; then
		fail "valgrind: $(grep -h -A3 'Syscall param mount' "$BATS_TEST_TMPDIR"/vg.*.log)"
	fi
	assert_nothing_left
}
