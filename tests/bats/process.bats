#!/usr/bin/env bats
# The container process: args, env, cwd, umask, rlimits, oom score,
# capabilities, no_new_privs, stdio.

load helpers

@test "process: args are passed unchanged" {
	run_ctr sh -c 'printf "[%s]" "$@"; echo' argv0 'a b' '' '*' '$HOME' "quote'd"
	assert_success
	assert_output "[a b][][*][\$HOME][quote'd]"
}

@test "process: args[0] is found in PATH" {
	run_ctr echo hello world
	assert_success
	assert_output 'hello world'
}

@test "process: env is exactly the config's, nothing from the caller" {
	update_config '.process.env = ["PATH=/bin:/sbin", "FOO=bar baz", "EMPTY=", "HOME=/root"]'
	export OCIRT_HOST_ONLY_VAR=leak
	run_ctr env
	assert_success
	assert_line 'FOO=bar baz'
	assert_line 'EMPTY='
	assert_line 'PATH=/bin:/sbin'
	assert_line 'HOME=/root'
	refute_output --partial OCIRT_HOST_ONLY_VAR
	refute_output --partial XDG_RUNTIME_DIR
}

@test "process: cwd" {
	mkdir -p "$BUNDLE/rootfs/srv/work dir"
	update_config '.process.cwd = "/srv/work dir"'
	run_ctr pwd
	assert_success
	assert_output '/srv/work dir'
}

@test "process: a missing cwd is created" {
	update_config '.process.cwd = "/does/not/exist"'
	run_ctr pwd
	assert_success
	assert_output /does/not/exist
}

@test "process: umask from process.user.umask, default 0022" {
	run_ctr sh -c 'umask'
	assert_success
	assert_output 0022
	update_config '.process.user.umask = 63'
	run_ctr sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'
	assert_success
	assert_line --index 0 0077
	assert_line --index 1 600
}

@test "process: rlimits NOFILE soft and hard" {
	update_config '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 123, hard: 456}]'
	run_ctr sh -c 'ulimit -n; grep "^Max open files" /proc/self/limits'
	assert_success
	assert_line --index 0 123
	assert_line --index 1 --regexp '^Max open files +123 +456 +files'
}

@test "process: rlimits above the caller's hard limit fail" {
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || skip "caller's NOFILE hard limit is unlimited"
	update_config '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: $h, hard: $h}]' \
		--argjson h "$((hard + 1))"
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error
	assert_no_containers
}

@test "process: oomScoreAdj can be raised" {
	local cur
	cur=$(cat /proc/self/oom_score_adj)
	local want=$((cur < 500 ? 500 : cur))
	update_config '.process.oomScoreAdj = $v' --argjson v "$want"
	run_ctr cat /proc/self/oom_score_adj
	assert_success
	assert_output "$want"
}

@test "process: noNewPrivileges sets no_new_privs" {
	update_config '.process.noNewPrivileges = true'
	run_ctr grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+1$'
	update_config '.process.noNewPrivileges = false'
	run_ctr grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+0$'
}

@test "process: capabilities are the configured sets" {
	# CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29)
	run_ctr grep -E '^Cap(Eff|Prm|Bnd|Amb):' /proc/self/status
	assert_success
	assert_line --regexp '^CapEff:[[:space:]]+0000000020000420$'
	assert_line --regexp '^CapPrm:[[:space:]]+0000000020000420$'
	assert_line --regexp '^CapBnd:[[:space:]]+0000000020000420$'
	update_config '.process.capabilities = {bounding: ["CAP_CHOWN"], effective: ["CAP_CHOWN"], permitted: ["CAP_CHOWN"]}'
	run_ctr grep -E '^Cap(Eff|Bnd|Amb):' /proc/self/status
	assert_success
	assert_line --regexp '^CapEff:[[:space:]]+0000000000000001$'
	assert_line --regexp '^CapBnd:[[:space:]]+0000000000000001$'
	assert_line --regexp '^CapAmb:[[:space:]]+0000000000000000$'
}

@test "process: without CAP_CHOWN root in the container cannot chown" {
	use_subid_mappings
	update_config '.process.capabilities = {bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"]}'
	run_ctr sh -c 'touch /tmp/f; chown 1:1 /tmp/f; echo rc=$?'
	assert_success
	refute_line rc=0
	update_config '.process.capabilities = {bounding: ["CAP_CHOWN"], effective: ["CAP_CHOWN"], permitted: ["CAP_CHOWN"]}'
	run_ctr sh -c 'touch /tmp/f; chown 1:1 /tmp/f; echo rc=$?; stat -c "%u %g" /tmp/f'
	assert_success
	assert_line rc=0
	assert_line '1 1'
}

@test "process: stdin is passed through" {
	set_args sh -c 'read a; read b; echo "got $b $a"'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" < <(printf 'one\ntwo\n')
	assert_success
	assert_output 'got two one'
}

@test "process: stdout and stderr are kept apart" {
	set_args sh -c 'echo to-out; echo to-err >&2; exit 4'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_failure 4
	assert_output to-out
	# the runtime may add nothing to the container's stderr here
	[ "$stderr" = to-err ] || [ "$OCIRT_IS_OURS" = 0 ] || fail "stderr: $stderr"
	[[ "$stderr" == *to-err* ]]
}

@test "process: large output passes through intact" {
	set_args sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i + 1)); done'
	runtime run --bundle "$BUNDLE" "$CID" </dev/null >"$BATS_TEST_TMPDIR/big" 2>/dev/null
	run wc -l <"$BATS_TEST_TMPDIR/big"
	assert_output 20000
	run tail -n 1 "$BATS_TEST_TMPDIR/big"
	assert_output 'line 19999'
}

@test "process: user uid/gid 65534 (nobody) with the subordinate range" {
	use_subid_mappings
	[ "$SUBUID_COUNT" -ge 65534 ] || skip "subordinate range too small for 65534"
	update_config '.process.user = {uid: 65534, gid: 65534}'
	run_ctr sh -c 'id -u; id -g; id -un'
	assert_success
	assert_output "65534
65534
nobody"
}

@test "process: terminal false gives no controlling terminal" {
	run_ctr sh -c 'test -t 0 && echo tty0; test -t 1 && echo tty1; echo done'
	assert_success
	assert_output done
}
