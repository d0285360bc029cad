#!/usr/bin/env bats
# Errors: each fails with a message that says what is wrong, and leaves no
# container, process or state behind. Symlinks in the rootfs never redirect
# the runtime to host paths.

load helpers

@test "errors: missing config.json" {
	rm "$BUNDLE/config.json"
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'config\.json'
	assert_no_containers
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'config\.json'
	assert_no_containers
}

@test "errors: a bundle that does not exist" {
	run_detached run --bundle "$BATS_TEST_TMPDIR/nope" "$CID"
	assert_runtime_error "$(ours_or "$BATS_TEST_TMPDIR/nope" 'no such file')"
	assert_no_containers
}

@test "errors: malformed config.json fails" {
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n' >"$BUNDLE/config.json"
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$(ours_or 'config\.json' 'invalid|json')"
	assert_no_containers
}

@test "errors: malformed config.json error gives line and column" {
	requires_ours "report the line and column of JSON syntax errors"
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n' >"$BUNDLE/config.json"
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'config\.json' 'line 3' 'col(umn)? [0-9]+'
	assert_no_containers
}

@test "errors: config.json of the wrong shape names the field" {
	update_config '.process.args = "not-an-array"'
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$(ours_or 'args' 'args|unmarshal|cannot')"
	assert_no_containers
}

@test "errors: a missing executable is named and nothing is left" {
	set_args /no/such/binary arg
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error '/no/such/binary'
	assert_no_containers
	run runtime state "$CID"
	assert_failure
	set_args no-such-command-in-path
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'no-such-command-in-path'
	assert_no_containers
}

@test "errors: an executable that is not executable" {
	printf 'data\n' >"$BUNDLE/rootfs/bin/notexec"
	chmod 0644 "$BUNDLE/rootfs/bin/notexec"
	set_args /bin/notexec
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error '/bin/notexec|permission denied'
	assert_no_containers
}

@test "errors: a relative cwd is refused" {
	update_config '.process.cwd = "tmp"'
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'cwd'
	assert_no_containers
}

@test "errors: a cwd that is a file is refused" {
	update_config '.process.cwd = "/etc/passwd"'
	set_args true
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$(ours_or '/etc/passwd' 'not a directory')"
	assert_no_containers
}

@test "errors: a mount destination through a symlink to /etc does not touch the host /etc" {
	local before
	before=$(sha256sum /etc/hostname /etc/passwd)
	ln -s /etc "$BUNDLE/rootfs/hostetc"
	echo from-container >"$BATS_TEST_TMPDIR/payload"
	add_mount /hostetc/hostname none "$BATS_TEST_TMPDIR/payload" rbind
	add_mount /hostetc/ocirt-escape-test tmpfs tmpfs size=64k
	run_ctr sh -c 'cat /etc/hostname; echo pwned > /hostetc/ocirt-escape-test/x; echo pwned >> /etc/hostname'
	# runtimes may follow the link inside the rootfs or refuse; either way
	# the host is untouched
	[ ! -e /etc/ocirt-escape-test ] || fail "runtime created /etc/ocirt-escape-test on the host"
	run sha256sum /etc/hostname /etc/passwd
	assert_output "$before"
	grep -q pwned /etc/hostname && fail "host /etc/hostname was written" || true
}

@test "errors: a symlink in the rootfs cannot redirect a mount to a host directory" {
	# a host directory the unprivileged caller could write to: if the runtime
	# resolved the destination on the host, the mount or mkdir would land here
	local victim=$BATS_TEST_TMPDIR/victim
	mkdir "$victim"
	echo untouched >"$victim/file"
	ln -s "$victim" "$BUNDLE/rootfs/abs"
	ln -s "../../../../../../../../../../../..$victim" "$BUNDLE/rootfs/rel"
	local src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	echo payload >"$src/payload"
	add_mount /abs/sub none "$src" rbind
	add_mount /rel/sub2 none "$src" rbind
	add_mount /abs/file none "$src/payload" rbind
	run_ctr sh -c 'ls /abs/sub /rel/sub2 2>&1; echo written > /abs/file; echo done'
	run ls -A "$victim"
	assert_output file
	run cat "$victim/file"
	assert_output untouched
	# and the mounts did land inside the container's root (or the run failed)
	if [ -d "$BUNDLE/rootfs$victim" ]; then
		[ -d "$BUNDLE/rootfs$victim/sub" ] || fail "mount point not created inside the rootfs"
	fi
}

@test "errors: invalid container ids are refused and create nothing" {
	set_args true
	local id
	for id in "../x" "a/b" "" "." ".." "x/../../y"; do
		run_detached create --bundle "$BUNDLE" "$id"
		[ "$status" -ne 0 ] || fail "id '$id' was accepted"
		assert_runtime_error
		assert_no_containers
	done
	run ls -A "$ROOT"
	assert_output ''
	[ ! -e "$BATS_TEST_TMPDIR/x" ] || fail "id ../x created $BATS_TEST_TMPDIR/x"
	[ ! -e "$BATS_TEST_TMPDIR/y" ] || fail "created $BATS_TEST_TMPDIR/y"
}

@test "errors: an unknown namespace type is named" {
	update_config '.linux.namespaces += [{type: "bogusns"}]'
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'bogusns'
	assert_no_containers
}

@test "errors: a bind mount of a missing source names it" {
	add_mount /m none "$BATS_TEST_TMPDIR/no-such-source" rbind
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'no-such-source'
	assert_no_containers
}

@test "errors: an unknown mount type fails and leaves nothing" {
	add_mount /m nosuchfstype none
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$(ours_or 'nosuchfstype' '/m|no such device')"
	assert_no_containers
}

@test "errors: a bundle path with spaces works" {
	local b="$BATS_TEST_TMPDIR/my bundle dir"
	mv "$BUNDLE" "$b"
	BUNDLE=$b
	run_ctr sh -c 'echo ok'
	assert_success
	assert_output ok
	start_detached
	run state_field "$CID" .bundle
	assert_output "$b"
}

@test "errors: start and kill of an unknown container fail" {
	run --separate-stderr runtime start no-such-ctr
	assert_runtime_error "$(ours_or 'no-such-ctr' 'not exist')"
	run --separate-stderr runtime kill no-such-ctr KILL
	assert_runtime_error "$(ours_or 'no-such-ctr' 'not exist')"
}

@test "errors: kill of a stopped container fails or is a no-op, and delete works" {
	set_args true
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1
	runtime start "$CID"
	wait_for_status "$CID" stopped
	run runtime kill "$CID" KILL
	run state_field "$CID" .status
	assert_output stopped
	run runtime delete "$CID"
	assert_success
	assert_no_containers
}

@test "errors: a state root that is a file" {
	touch "$BATS_TEST_TMPDIR/rootfile"
	set_args true
	status=0
	timeout 20 "$OCIRT" --root "$BATS_TEST_TMPDIR/rootfile" run --bundle "$BUNDLE" "$CID" \
		</dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" || status=$?
	stderr=$(cat "$BATS_TEST_TMPDIR/err")
	assert_runtime_error "$(ours_or 'rootfile' 'not a directory|exists')"
}
