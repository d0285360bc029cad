#!/usr/bin/env bats
# exec: every flag of the man page, the namespaces it joins, what it
# inherits from the container, exit codes and errors.

load helpers

# exec_detached ARGS...: `runtime exec ARGS...` for commands that leave a
# process behind (-d): stdio to files, so bats does not wait on a pipe the
# process keeps open. Sets status, output, stderr.
exec_detached() {
	run_detached exec "$@"
}

# in_pty INPUT CMD...: run CMD under script(1), i.e. with a terminal on
# its stdio, INPUT (printf %b escapes) fed to that terminal. Sets status and
# output (carriage returns removed).
in_pty() {
	local input=$1 cmd
	shift
	cmd=$(printf '%q ' "$@")
	run bash -c 'printf "%b" "$1" | timeout 20 script -qec "$2" /dev/null | tr -d "\r"
		exit "${PIPESTATUS[1]}"' in_pty "$input" "$cmd"
}

@test "exec: runs a command in the running container" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" sh -c 'echo out; echo err >&2; cat /etc/hostname'
	assert_success
	assert_output 'out
ocirt'
	[ "$stderr" = err ] || fail "stderr: $stderr"
}

@test "exec: the exit code is the process's, 128+N for a signal" {
	start_detached sleep 1000
	run runtime exec "$CID" true
	assert_success
	run runtime exec "$CID" sh -c 'exit 7'
	assert_failure 7
	run runtime exec "$CID" sh -c 'exit 255'
	assert_failure 255
	run runtime exec "$CID" sh -c 'kill -KILL $$'
	assert_failure 137
	run runtime exec "$CID" sh -c 'kill -TERM $$'
	assert_failure 143
}

@test "exec: stdin is passed through" {
	start_detached sleep 1000
	run bash -c 'printf "one\ntwo\n" | timeout 20 "$1" --root "$2" exec "$3" sh -c "read a; read b; echo \$b \$a"' \
		_ "$OCIRT" "$ROOT" "$CID"
	assert_success
	assert_output 'two one'
}

@test "exec: signals to the runtime are forwarded to the process" {
	start_detached sleep 1000
	local out=$BATS_TEST_TMPDIR/exec.out rc=0
	"$OCIRT" --root "$ROOT" exec "$CID" sh -c 'trap "echo got-term; exit 5" TERM; echo ready
		while :; do sleep 0.1; done' </dev/null >"$out" 2>&1 3>&- &
	local epid=$!
	BG_PIDS+=("$epid")
	wait_for_file "$out"
	kill -TERM "$epid"
	wait "$epid" || rc=$?
	[ "$rc" -eq 5 ] || fail "exec exited $rc, wanted 5: $(cat "$out")"
	run cat "$out"
	assert_output 'ready
got-term'
}

@test "exec: joins every namespace of the container" {
	update_config '.linux.namespaces += [{type: "network"}, {type: "cgroup"}]'
	if [ -e /proc/self/ns/time ]; then
		update_config '.linux.namespaces += [{type: "time"}]'
	fi
	start_detached sleep 1000
	local n want="" host=""
	for n in mnt pid user uts ipc net cgroup time; do
		[ -e "/proc/self/ns/$n" ] || continue
		want+="$n $(readlink "/proc/$CPID/ns/$n")"$'\n'
		host+="$n $(readlink "/proc/self/ns/$n")"$'\n'
	done
	run --separate-stderr runtime exec "$CID" sh -c 'for n in mnt pid user uts ipc net cgroup time; do
		[ -e /proc/self/ns/$n ] && echo "$n $(readlink /proc/self/ns/$n)"; done; true'
	assert_success
	[ "$output" = "${want%$'\n'}" ] || fail "exec'd process namespaces:
$output
container init's:
$want"
	# and they are really the container's own, not the host's
	local line
	while read -r line; do
		grep -qxF "$line" <<<"$host" && fail "the container shares the host's namespace: $line"
	done <<<"${want%$'\n'}"
	true
}

@test "exec: takes the container's env, rlimits, capabilities and no_new_privs" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" sh -c 'echo "$HOME $TERM"; ulimit -n
		grep -E "^(CapBnd|NoNewPrivs):" /proc/self/status'
	assert_success
	assert_line --index 0 '/root xterm'
	assert_line --index 1 1024
	assert_line --regexp '^CapBnd:[[:space:]]+0000000020000420$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
}

@test "exec: takes the container's seccomp filter" {
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
		syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 38}]}'
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" sh -c 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_line rc=1
	[[ "$stderr" == *'Function not implemented'* ]] || fail "stderr: $stderr"
}

@test "exec: --process FILE runs that process, not the container's settings" {
	start_detached sleep 1000
	mkdir -p "$BUNDLE/rootfs/work"
	jq -n '{args: ["sh", "-c", "echo \"$FOO [$TERM]\"; pwd; ulimit -n"], env: ["FOO=from-file", "PATH=/bin"],
		cwd: "/work", user: {uid: 0, gid: 0}, rlimits: [{type: "RLIMIT_NOFILE", soft: 77, hard: 77}]}' \
		>"$BATS_TEST_TMPDIR/process.json"
	run --separate-stderr runtime exec --process "$BATS_TEST_TMPDIR/process.json" "$CID"
	assert_success
	assert_output 'from-file []
/work
77'
}

@test "exec: --process with a file that is not a process is an error naming it" {
	start_detached sleep 1000
	echo '{"args": "not an array"' >"$BATS_TEST_TMPDIR/bad.json"
	run --separate-stderr runtime exec --process "$BATS_TEST_TMPDIR/bad.json" "$CID"
	assert_runtime_error 'bad\.json'
	run --separate-stderr runtime exec --process "$BATS_TEST_TMPDIR/missing.json" "$CID"
	assert_runtime_error 'missing\.json'
}

@test "exec: --env adds and overrides variables, -e too" {
	start_detached sleep 1000
	run --separate-stderr runtime exec --env NEW=1 --env HOME=/elsewhere --env 'SPACED=a b' "$CID" \
		sh -c 'echo "$NEW|$HOME|$SPACED|$TERM"; env | grep -c ^HOME='
	assert_success
	assert_output '1|/elsewhere|a b|xterm
1'
	run --separate-stderr runtime exec -e TERM=dumb "$CID" sh -c 'echo "$TERM"'
	assert_success
	assert_output dumb
}

@test "exec: --cwd sets the working directory; a missing one is an error naming it" {
	start_detached sleep 1000
	mkdir -p "$BUNDLE/rootfs/srv/dir"
	run --separate-stderr runtime exec --cwd /srv/dir "$CID" pwd
	assert_success
	assert_output /srv/dir
	run --separate-stderr runtime exec --cwd /no/such/dir "$CID" pwd
	assert_runtime_error '/no/such/dir'
}

@test "exec: --user UID:GID and --additional-gids" {
	use_subid_mappings
	[ "$SUBUID_COUNT" -ge 1000 ] && [ "$SUBGID_COUNT" -ge 1000 ] || skip "subordinate ranges too small"
	start_detached sleep 1000
	run --separate-stderr runtime exec --user 1000:1001 "$CID" sh -c 'id -u; id -g'
	assert_success
	assert_output '1000
1001'
	run --separate-stderr runtime exec -u 1000:1001 --additional-gids 10 --additional-gids 20 "$CID" \
		grep ^Groups: /proc/self/status
	assert_success
	assert_output --regexp '^Groups:[[:space:]]+10 20[[:space:]]*$'
}

@test "exec: --user with an id the container does not map is an error naming it" {
	start_detached sleep 1000
	run --separate-stderr runtime exec --user 4242:0 "$CID" true
	assert_runtime_error 4242
}

@test "exec: --cap adds a capability to the process" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" grep -E '^Cap(Bnd|Prm|Eff):' /proc/self/status
	assert_success
	assert_line --regexp '^CapBnd:[[:space:]]+0000000020000420$'
	run --separate-stderr runtime exec --cap CAP_CHOWN --cap CAP_FOWNER "$CID" grep -E '^Cap(Bnd|Prm|Eff):' /proc/self/status
	assert_success
	# CAP_CHOWN (0) and CAP_FOWNER (3) on top of the config's 0x20000420
	assert_line --regexp '^CapBnd:[[:space:]]+0000000020000429$'
	assert_line --regexp '^CapPrm:[[:space:]]+0000000020000429$'
	assert_line --regexp '^CapEff:[[:space:]]+0000000020000429$'
}

@test "exec: --cap with a malformed name is an error naming it" {
	start_detached sleep 1000
	run --separate-stderr runtime exec --cap sys_admin "$CID" true
	assert_runtime_error sys_admin
	run --separate-stderr runtime exec --cap CAP_ "$CID" true
	assert_runtime_error 'CAP_'
}

@test "exec: --no-new-privs sets NoNewPrivs" {
	update_config '.process.noNewPrivileges = false'
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+0$'
	run --separate-stderr runtime exec --no-new-privs "$CID" grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+1$'
}

@test "exec: --apparmor and --process-label on a host without them are errors naming them" {
	start_detached sleep 1000
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]; then
		run --separate-stderr runtime exec --apparmor ocirt-test-profile "$CID" true
		assert_runtime_error 'apparmor'
	fi
	if [ ! -e /sys/fs/selinux/enforce ]; then
		run --separate-stderr runtime exec --process-label system_u:system_r:container_t:s0 "$CID" true
		assert_runtime_error 'selinux|label'
	fi
}

@test "exec: -d with --pid-file writes the process's host pid, relative path from the caller's cwd" {
	start_detached sleep 1000
	mkdir -p "$BATS_TEST_TMPDIR/pids"
	cd "$BATS_TEST_TMPDIR/pids"
	local t0=$SECONDS
	exec_detached -d --pid-file exec.pid "$CID" sleep 999
	assert_success
	[ $((SECONDS - t0)) -lt 10 ] || fail "exec -d did not return"
	cd /
	[ -f "$BATS_TEST_TMPDIR/pids/exec.pid" ] || fail "no pid file in the caller's cwd"
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pids/exec.pid")
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "pid file content '$pid'"
	TRACKED_PIDS+=("$pid")
	pid_alive "$pid" || fail "process $pid of the pid file is not running"
	run tr '\0' ' ' <"/proc/$pid/cmdline"
	assert_output 'sleep 999 '
	[ "$(readlink "/proc/$pid/ns/pid")" = "$(readlink "/proc/$CPID/ns/pid")" ] ||
		fail "pid $pid is not in the container's pid namespace"
	# written atomically: nothing else (no temporary file) is left there
	run ls -A "$BATS_TEST_TMPDIR/pids"
	assert_output exec.pid
}

@test "exec: --pid-file replaces an existing file" {
	start_detached sleep 1000
	echo 999999 >"$BATS_TEST_TMPDIR/exec.pid"
	exec_detached -d --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$CID" sleep 999
	assert_success
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/exec.pid")
	TRACKED_PIDS+=("$pid")
	[ "$pid" != 999999 ] && pid_alive "$pid" || fail "pid file: '$pid'"
}

@test "exec: --preserve-fds passes fds 3 to 3+N-1 and no others" {
	start_detached sleep 1000
	echo three >"$BATS_TEST_TMPDIR/f3"
	echo four >"$BATS_TEST_TMPDIR/f4"
	run --separate-stderr runtime exec --preserve-fds 2 "$CID" sh -c 'cat <&3; cat <&4; ls /proc/$$/fd; true' \
		3<"$BATS_TEST_TMPDIR/f3" 4<"$BATS_TEST_TMPDIR/f4" 5</etc/hostname
	assert_success
	assert_output 'three
four
0
1
2
3
4'
}

@test "exec: -t gives the process a terminal relayed to the caller" {
	start_detached sleep 1000
	in_pty 'hello\n' "$OCIRT" --root "$ROOT" exec -t "$CID" sh -c 'tty; test -t 0 && test -t 1 && echo is-a-tty; read l; echo "got:$l"; exit 3'
	[ "$status" -eq 3 ] || fail "exit status $status, wanted 3: $output"
	assert_line --regexp '^(.*)?/dev/pts/[0-9]+$'
	assert_line is-a-tty
	assert_line got:hello
}

@test "exec: -t --console-socket sends the pty master to the socket" {
	start_detached sleep 1000
	local sock=$BATS_TEST_TMPDIR/console.sock
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/tty.out"
	exec_detached -d -t --console-socket "$sock" "$CID" sh -c 'tty; test -t 0 && echo is-a-tty; exit 4'
	assert_success
	wait_recvtty
	run tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out"
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line is-a-tty
}

@test "exec: -d -t --console-socket --pid-file, as conmon runs it" {
	start_detached sleep 1000
	local sock=$BATS_TEST_TMPDIR/console.sock
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/tty.out" -i 'typed\n'
	exec_detached -d -t --console-socket "$sock" --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$CID" \
		sh -c 'read l; echo "got:$l"; tty'
	assert_success
	[ -s "$BATS_TEST_TMPDIR/exec.pid" ] || fail "no pid file"
	TRACKED_PIDS+=("$(cat "$BATS_TEST_TMPDIR/exec.pid")")
	wait_recvtty
	run tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out"
	assert_line got:typed
	assert_line --regexp '^/dev/pts/[0-9]+$'
}

@test "exec: -t -d without --console-socket is an error" {
	start_detached sleep 1000
	exec_detached -t -d "$CID" true
	assert_runtime_error 'console.socket'
}

@test "exec: a missing executable fails naming it" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" /no/such/binary
	assert_runtime_error '/no/such/binary'
	run --separate-stderr runtime exec "$CID" no-such-command
	assert_runtime_error 'no-such-command'
	# the container is unaffected
	run state_field "$CID" .status
	assert_output running
}

@test "exec: into a stopped container fails clearly" {
	set_args true
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_success
	runtime start "$CID"
	wait_for_status "$CID" stopped
	run --separate-stderr runtime exec "$CID" true
	assert_runtime_error 'stopped'
}

@test "exec: into a container that does not exist fails clearly" {
	run --separate-stderr runtime exec no-such-ctr true
	assert_runtime_error 'no-such-ctr' 'does not exist|not found|no such'
}

@test "exec: without a command (and without --process) is an error" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID"
	assert_runtime_error
}
