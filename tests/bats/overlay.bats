#!/usr/bin/env bats
# Layered rootfs: --layer/--upper/--overlay and the run.oci.ocirt.layers,
# .upper, .overlay annotations; kernel overlayfs and fuse-overlayfs; what
# is left (nothing) after delete.

load helpers

eval "$(declare -f setup | sed '1s/^setup/helpers_setup/')"

# helpers' setup, then two layers: LOWER (the busybox rootfs of the
# bundle, moved) and TOP (files over it).
setup() {
	helpers_setup
	requires_ours "assemble a layered rootfs"
	LOWER=$BATS_TEST_TMPDIR/lower
	TOP=$BATS_TEST_TMPDIR/top
	mv "$BUNDLE/rootfs" "$LOWER"
	mkdir -p "$TOP/etc"
	echo top >"$TOP/hello"
	echo from-top >"$TOP/etc/motd"
	# root.path does not matter when layers are given
	update_config '.root.path = "does-not-exist"'
	LAYERS=(--layer "$TOP" --layer "$LOWER")
}

# snapshot DIR: every path with type, size, mode, mtime and owner.
snapshot() {
	(cd "$1" && find . -printf '%p %y %s %m %T@ %U:%G\n' | LC_ALL=C sort | sha256sum)
}

# run_ov FLAG... -- CMD...: run the bundle in the foreground with FLAGs.
run_ov() {
	local flags=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		flags+=("$1")
		shift
	done
	shift
	set_args "$@"
	run runtime run "${flags[@]}" --bundle "$BUNDLE" "$CID" </dev/null
}

# fuse_pids: our fuse-overlayfs processes of container $1 (by work dir).
fuse_pids() {
	pgrep -u "$(id -u)" -f "fuse-overlayfs .*workdir=$ROOT/$1/overlay/work" || true
}

requires_fuse() {
	command -v fuse-overlayfs >/dev/null || skip "fuse-overlayfs is not installed"
	[ -r /dev/fuse ] && [ -w /dev/fuse ] ||
		skip "/dev/fuse is not accessible (mode $(stat -c %a /dev/fuse 2>/dev/null)); as root: chmod 0666 /dev/fuse"
}

@test "overlay: the container sees the layers merged, top first; writes and deletions stay out of them" {
	local before_lower before_top
	before_lower=$(snapshot "$LOWER")
	before_top=$(snapshot "$TOP")
	run_ov "${LAYERS[@]}" -- sh -c 'cat /hello /etc/motd; ls /bin/busybox;
		echo new > /written; echo changed > /hello; rm /etc/hostname; rm -r /home; echo ok'
	assert_success
	assert_line --index 0 top
	assert_line --index 1 from-top
	assert_line --index 2 /bin/busybox
	assert_line ok
	[ "$(snapshot "$LOWER")" = "$before_lower" ] || fail "the lower layer changed"
	[ "$(snapshot "$TOP")" = "$before_top" ] || fail "the top layer changed"
	[ ! -e "$LOWER/written" ] && [ -e "$LOWER/etc/hostname" ] && [ -d "$LOWER/home" ]
	[ "$(cat "$TOP/hello")" = top ]
	# foreground run deletes the container: its upper went with it
	[ ! -e "$ROOT/$CID" ] || fail "state dir left: $(ls -R "$ROOT/$CID")"
}

@test "overlay: two containers on the same layers see only their own writes" {
	local before
	before=$(snapshot "$LOWER")
	set_args sleep 1000
	local id
	for id in a b; do
		runtime run -d "${LAYERS[@]}" --bundle "$BUNDLE" "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/$id.err" ||
			fail "run -d $id: $(cat "$BATS_TEST_TMPDIR/$id.err")"
		TRACKED_PIDS+=("$(state_field "$id" .pid)")
	done
	runtime exec a sh -c 'echo from-a > /mine; echo a > /hello'
	runtime exec b sh -c 'echo from-b > /mine; rm /etc/motd'
	run runtime exec a sh -c 'cat /mine /hello /etc/motd'
	assert_success
	assert_output $'from-a\na\nfrom-top'
	run runtime exec b sh -c 'cat /mine /hello; test -e /etc/motd || echo motd-gone'
	assert_success
	assert_output $'from-b\ntop\nmotd-gone'
	runtime delete --force a
	runtime delete --force b
	[ "$(snapshot "$LOWER")" = "$before" ] || fail "the lower layer changed"
	[ ! -e "$ROOT/a" ] && [ ! -e "$ROOT/b" ]
}

@test "overlay: a persistent --upper keeps the writes for the next container" {
	local upper=$BATS_TEST_TMPDIR/upper
	run_ov "${LAYERS[@]}" --upper "$upper" -- sh -c 'echo kept > /persist; rm /etc/motd'
	assert_success
	[ "$(cat "$upper/persist")" = kept ] || fail "no /persist in the upper: $(ls -la "$upper")"
	[ -c "$upper/etc/motd" ] || fail "the deletion of /etc/motd is not a whiteout in the upper"
	[ -e "$TOP/etc/motd" ]
	run_ov "${LAYERS[@]}" --upper "$upper" -- sh -c 'cat /persist; test -e /etc/motd || echo motd-gone'
	assert_success
	assert_output $'kept\nmotd-gone'
	[ ! -e "$ROOT/$CID" ]
	# the work dir lived next to the upper and went at delete
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep -F .work-)" ]
}

@test "overlay: fuse-overlayfs with a persistent upper: writes and whiteouts land there" {
	requires_fuse
	local upper=$BATS_TEST_TMPDIR/fuse-upper
	run_ov "${LAYERS[@]}" --overlay fuse --upper "$upper" -- sh -c 'echo kept > /persist; rm /etc/motd; mv /hello /moved; ls /etc/motd /hello'
	assert_failure
	assert_output $'ls: /etc/motd: No such file or directory\nls: /hello: No such file or directory'
	[ "$(cat "$upper/persist")" = kept ]
	[ "$(cat "$upper/moved")" = top ]
	[ -e "$TOP/etc/motd" ] && [ -e "$TOP/hello" ]
	run_ov "${LAYERS[@]}" --overlay kernel --upper "$upper" -- sh -c 'cat /persist /moved; ls /etc/motd /hello 2>&1 | grep -c "No such"'
	if [ "$status" -ne 0 ] && grep -q 'kernel overlayfs (userxattr)' <<<"$output"; then
		skip "the kernel refuses overlayfs here; the fuse half passed"
	fi
	assert_success
	# the kernel reads what fuse-overlayfs wrote: one format
	assert_output $'kept\ntop\n2'
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep -F .work-)" ]
}

@test "overlay: an upper on another file system gets its work dir next to it, removed at delete" {
	[ -d /dev/shm ] && [ -w /dev/shm ] || skip "no writable /dev/shm to put an upper on another file system"
	[ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$BATS_TEST_TMPDIR")" ] || skip "/dev/shm is on the test dir's file system"
	local upper
	upper=$(mktemp -d /dev/shm/ocirt-upper.XXXXXX)
	start_detached_ov() {
		set_args sleep 1000
		runtime run -d "${LAYERS[@]}" --upper "$upper" --bundle "$BUNDLE" "$CID" </dev/null >/dev/null \
			2>"$BATS_TEST_TMPDIR/err" || { cat "$BATS_TEST_TMPDIR/err"; return 1; }
	}
	run start_detached_ov
	if [ "$status" -ne 0 ]; then
		rm -rf "$upper"
		fail "run -d with an upper in /dev/shm: $output"
	fi
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	runtime exec "$CID" sh -c 'echo shm > /on-shm'
	[ -d "/dev/shm/.$(basename "$upper").work-$CID" ] || fail "no work dir next to the upper: $(ls -a /dev/shm)"
	runtime delete --force "$CID"
	[ ! -e "/dev/shm/.$(basename "$upper").work-$CID" ] || fail "work dir left after delete"
	[ "$(cat "$upper/on-shm")" = shm ]
	rm -rf "$upper"
}

@test "overlay: delete removes an ephemeral upper holding files of other uids" {
	use_subid_mappings
	update_config '.process.capabilities |= with_entries(.value += ["CAP_CHOWN"])'
	set_args sh -c 'mkdir /d && echo x > /d/f && chmod 0700 /d && chown -R 1000:1000 /d && touch /done && sleep 1000'
	runtime run -d "${LAYERS[@]}" --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" ||
		fail "run -d: $(cat "$BATS_TEST_TMPDIR/err")"
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$ROOT/$CID/overlay/upper/done" ] && break
		sleep 0.05
	done
	[ -e "$ROOT/$CID/overlay/upper/done" ] || fail "the container did not chown /d"
	# the host user cannot remove that directory by itself
	[ "$(stat -c %u "$ROOT/$CID/overlay/upper/d")" -eq $((SUBUID_START + 999)) ] ||
		fail "upper/d is owned by $(stat -c %u "$ROOT/$CID/overlay/upper/d")"
	run runtime delete --force "$CID"
	assert_success
	[ ! -e "$ROOT/$CID" ] || fail "state dir left: $(ls -laR "$ROOT/$CID" 2>&1)"
}

@test "overlay: state and --debug name the driver; auto picks kernel overlayfs when allowed" {
	set_args sleep 1000
	run_detached --debug run -d "${LAYERS[@]}" --bundle "$BUNDLE" "$CID"
	[ "$status" -eq 0 ] || fail "run -d: $stderr"
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	local driver
	driver=$(state_field "$CID" '.annotations["run.oci.ocirt.overlay.driver"]')
	[ "$driver" = kernel ] || [ "$driver" = fuse ] || fail "state annotation run.oci.ocirt.overlay.driver is '$driver'"
	grep -q "layered rootfs: mounted .* with $( [ "$driver" = kernel ] && echo kernel || echo fuse)" <<<"$stderr" ||
		fail "--debug does not name the driver: $stderr"
	[ "$(cat "$ROOT/$CID/overlay/driver")" = "$driver" ]
	run runtime exec "$CID" sh -c 'grep " / / " /proc/self/mountinfo'
	assert_success
	if [ "$driver" = kernel ]; then
		assert_output --regexp ' - overlay overlay .*userxattr'
	else
		# auto fell back: the kernel must really refuse it here
		run unshare -Urm sh -c "mkdir -p $BATS_TEST_TMPDIR/k/u $BATS_TEST_TMPDIR/k/w $BATS_TEST_TMPDIR/k/m &&
			mount -t overlay overlay -o lowerdir=$LOWER,upperdir=$BATS_TEST_TMPDIR/k/u,workdir=$BATS_TEST_TMPDIR/k/w,userxattr $BATS_TEST_TMPDIR/k/m"
		assert_failure
	fi
}

@test "overlay: --overlay=kernel mounts kernel overlayfs or says why not" {
	run_ov "${LAYERS[@]}" --overlay kernel -- sh -c 'grep " / / " /proc/self/mountinfo; cat /hello'
	if [ "$status" -ne 0 ]; then
		assert_output --partial 'kernel overlayfs (userxattr)'
		skip "the kernel refuses overlayfs in a user namespace here: $output"
	fi
	assert_line --index 0 --regexp ' - overlay overlay '
	assert_line --index 1 top
}

@test "overlay: --overlay=fuse runs fuse-overlayfs in the container; gone after delete" {
	requires_fuse
	local before
	before=$(snapshot "$LOWER")
	set_args sleep 1000
	run_detached --debug run -d "${LAYERS[@]}" --overlay fuse --bundle "$BUNDLE" "$CID"
	[ "$status" -eq 0 ] || fail "run -d: $stderr"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	assert_equal "$(state_field "$CID" '.annotations["run.oci.ocirt.overlay.driver"]')" fuse
	grep -q 'layered rootfs: mounted .* with fuse-overlayfs' <<<"$stderr" || fail "--debug: $stderr"
	run runtime exec "$CID" sh -c 'grep " / / " /proc/self/mountinfo; cat /hello; echo w > /w; cat /w; rm /etc/motd; ls /etc/motd'
	assert_line --index 0 --regexp ' - fuse.fuse-overlayfs '
	assert_line --index 1 top
	assert_line --index 2 w
	assert_output --partial 'No such file'
	local fpids
	fpids=$(fuse_pids "$CID")
	[ -n "$fpids" ] || fail "no fuse-overlayfs process for $CID"
	# it lives in the container's pid namespace
	[ "$(readlink "/proc/$fpids/ns/pid")" = "$(readlink "/proc/$CPID/ns/pid")" ]
	runtime delete --force "$CID"
	wait_pid_gone "$fpids" 5
	[ -z "$(fuse_pids "$CID")" ]
	! grep -q "$ROOT/$CID" /proc/self/mountinfo
	[ ! -e "$ROOT/$CID" ]
	[ "$(snapshot "$LOWER")" = "$before" ] || fail "the lower layer changed"
}

@test "overlay: delete --force after the runtime was killed leaves no fuse-overlayfs and no mount" {
	requires_fuse
	set_args sleep 1000
	"$OCIRT" --root "$ROOT" run "${LAYERS[@]}" --overlay fuse --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 &
	local rpid=$!
	wait_for_status "$CID" running
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	local fpids
	fpids=$(fuse_pids "$CID")
	[ -n "$fpids" ] || fail "no fuse-overlayfs process"
	kill -9 "$rpid"
	wait "$rpid" || true
	pid_alive "$CPID" || fail "the container died with its runtime"
	run runtime delete --force "$CID"
	assert_success
	wait_pid_gone "$CPID" 5
	wait_pid_gone "$fpids" 5
	[ -z "$(fuse_pids "$CID")" ]
	! grep -q "$ROOT/$CID" /proc/self/mountinfo
	[ ! -e "$ROOT/$CID" ]
}

@test "overlay: the annotations select layers, upper and driver" {
	local upper=$BATS_TEST_TMPDIR/ann-upper
	update_config '.annotations = {"run.oci.ocirt.layers": $l, "run.oci.ocirt.upper": $u,
		"run.oci.ocirt.overlay": "auto"}' --arg l "$TOP:$LOWER" --arg u "$upper"
	run_ctr sh -c 'cat /hello; echo a > /from-annotation'
	assert_success
	assert_output top
	[ -f "$upper/from-annotation" ]
	update_config '.annotations["run.oci.ocirt.overlay"] = "sideways"'
	run_ctr true
	assert_runtime_error 'run.oci.ocirt.overlay' 'sideways' 'auto, kernel or fuse'
	assert_no_containers
}

@test "overlay: a bad layer, upper or driver is a clear error and leaves nothing" {
	set_args true
	run runtime run --layer "$BATS_TEST_TMPDIR/missing" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'layer' "$BATS_TEST_TMPDIR/missing" 'No such file'
	[ ! -e "$ROOT/$CID" ]
	run runtime run --layer relative/dir --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'layer `relative/dir`' 'not an absolute path'
	run runtime run --layer "$TOP/hello" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'not a directory'
	run runtime run --layer "$LOWER" --upper "$LOWER/tmp" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'overlaps layer' 'never written'
	run runtime run --layer "$LOWER" --overlay sideways --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error '--overlay' 'auto, kernel or fuse'
	run runtime run --upper "$BATS_TEST_TMPDIR/u" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error '--upper needs at least one --layer'
	mkdir "$BATS_TEST_TMPDIR/a,b"
	run runtime run --layer "$BATS_TEST_TMPDIR/a,b" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'may not contain'
	assert_no_containers
	[ -z "$(ls -A "$ROOT")" ] || fail "left in the state root: $(ls -A "$ROOT")"
	[ ! -e "$LOWER/tmp/work" ]
}

@test "overlay: fuse-overlayfs is looked up on PATH only, as the id-map helpers are" {
	requires_fuse
	local empty=$BATS_TEST_TMPDIR/empty
	mkdir -p "$empty"
	set_args true
	# installed in a standard directory, but not on the caller's PATH
	run --separate-stderr timeout --kill-after=5 "$OCIRT_TIMEOUT" env PATH="$empty" "$OCIRT" --root "$ROOT" \
		run --overlay fuse "${LAYERS[@]}" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'fuse-overlayfs is not installed \(not found on PATH'
	assert_no_containers
	# on PATH it is found
	run --separate-stderr timeout --kill-after=5 "$OCIRT_TIMEOUT" \
		env PATH="$empty:$(dirname "$(command -v fuse-overlayfs)")" "$OCIRT" --root "$ROOT" \
		run --overlay fuse "${LAYERS[@]}" --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
}

@test "overlay: a fuse-overlayfs outside the system directories runs (~/bin, a static build)" {
	requires_fuse
	local bin=$BATS_TEST_TMPDIR/bin
	mkdir -p "$bin"
	# The daemon's own root binds only /usr, /bin, /sbin and /lib*: this
	# copy is not there, and its libraries are.
	cp "$(command -v fuse-overlayfs)" "$bin/fuse-overlayfs"
	set_args sh -c 'grep " / / " /proc/self/mountinfo; cat /hello'
	run --separate-stderr timeout --kill-after=5 "$OCIRT_TIMEOUT" env PATH="$bin:$PATH" "$OCIRT" --root "$ROOT" \
		--debug run --overlay fuse "${LAYERS[@]}" --bundle "$BUNDLE" "$CID" </dev/null
	[ "$status" -eq 0 ] || fail "run: $stderr"
	grep -qF "with fuse-overlayfs \`$bin/fuse-overlayfs\`" <<<"$stderr" || fail "not the copy on PATH: $stderr"
	assert_line --index 0 --regexp ' - fuse.fuse-overlayfs '
	assert_line --index 1 top
}

@test "overlay: a fuse-overlayfs script outside the system directories is refused by name" {
	requires_fuse
	local bin=$BATS_TEST_TMPDIR/bin
	mkdir -p "$bin"
	printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v fuse-overlayfs)" >"$bin/fuse-overlayfs"
	chmod 0755 "$bin/fuse-overlayfs"
	set_args true
	run --separate-stderr timeout --kill-after=5 "$OCIRT_TIMEOUT" env PATH="$bin:$PATH" "$OCIRT" --root "$ROOT" \
		run --overlay fuse "${LAYERS[@]}" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "fuse-overlayfs \`$bin/fuse-overlayfs\` exited with status 127" 'a script' \
		'a static build'
	assert_no_containers
}

@test "overlay: an inaccessible /dev/fuse is named in the error with the fix" {
	requires_fuse
	command -v unshare >/dev/null || skip "no unshare"
	[ -r /etc/shadow ] && skip "/etc/shadow is readable: cannot stand in for a 0600 /dev/fuse"
	unshare -Urm true 2>/dev/null || skip "unshare -Urm does not work here"
	# In a user namespace of our own, a file we may not open stands in for
	# /dev/fuse of a fresh machine (mode 0600, owned by root).
	remove_userns
	set_args true
	run unshare -Urm sh -c "mount --bind /etc/shadow /dev/fuse &&
		exec timeout 20 '$OCIRT' --root '$ROOT' run --overlay fuse --layer '$LOWER' --bundle '$BUNDLE' '$CID' </dev/null"
	assert_failure
	assert_output --partial '/dev/fuse is not accessible'
	assert_output --partial 'chmod 0666 /dev/fuse'
	[ ! -e "$ROOT/$CID" ]
}
