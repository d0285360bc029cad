#!/usr/bin/env bats
# Terminals: process.terminal with --console-socket (the pty master sent
# with SCM_RIGHTS, received by tests/tools/recvtty), consoleSize, run
# relaying the pty to the caller's terminal, exec -t, and the errors.

load helpers

# tty_out: what recvtty -m file wrote, carriage returns removed.
tty_out() {
	tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out"
}

# console_run [RECVTTY-ARG...]: create $CID with terminal true and a
# console socket served by recvtty -m file, start it and wait until the
# container's terminal is closed. The terminal output is in $output.
console_run() {
	local sock=$BATS_TEST_TMPDIR/console.sock
	update_config '.process.terminal = true'
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/tty.out" "$@"
	run_detached create --console-socket "$sock" --bundle "$BUNDLE" "$CID"
	[ "$status" -eq 0 ] || fail "create failed: $stderr"
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	runtime start "$CID" || fail "start failed"
	wait_recvtty
	run tty_out
}

# in_pty INPUT SCRIPT: run the shell SCRIPT under script(1), i.e. with a
# terminal on its stdio, with INPUT (printf %b escapes) typed at it. RT in
# SCRIPT is the runtime with this test's root. Sets status and output
# (carriage returns removed).
in_pty() {
	run env RT="$OCIRT --root $ROOT" BUNDLE="$BUNDLE" CID="$CID" bash -c \
		'printf "%b" "$1" | timeout 20 script -qec "$2" /dev/null | tr -d "\r"
		exit "${PIPESTATUS[1]}"' in_pty "$1" "$2"
}

@test "terminal: create --console-socket sends the master; the process has the pty on stdio" {
	set_args sh -c 'tty; test -t 0 && test -t 1 && test -t 2 && echo all-ttys'
	console_run
	assert_line --regexp '^/dev/pts/[0-9]+$'
	assert_line all-ttys
}

@test "terminal: the pty is the process's controlling terminal" {
	set_args sh -c 'echo via-dev-tty >/dev/tty && echo ctty-ok'
	console_run
	assert_line via-dev-tty
	assert_line ctty-ok
}

@test "terminal: input written to the master reaches the process" {
	set_args sh -c 'read l; echo "got:$l"'
	console_run -i 'hello there\n'
	assert_line 'got:hello there'
}

@test "terminal: consoleSize sets the rows and columns" {
	update_config '.process.consoleSize = {height: 33, width: 111}'
	set_args stty size
	console_run
	assert_output '33 111'
}

@test "terminal: /dev/console is the container's pty" {
	# runtime-spec config-linux.md, Default Devices: /dev/console is set up
	# when process.terminal is true, by bind-mounting the pty.
	set_args sh -c 'stat -c "%t:%T" /dev/console "$(tty)" 2>&1'
	console_run
	[ "${#lines[@]}" -eq 2 ] || fail "stat output: $output"
	[ "${lines[0]}" = "${lines[1]}" ] || fail "/dev/console is ${lines[0]}, the pty is ${lines[1]}"
}

@test "terminal: no pty master (or other) fd reaches the process" {
	set_args sh -c 'ls -1 /proc/$$/fd; true'
	console_run
	assert_output '0
1
2'
}

@test "terminal: the master ends when the process exits, and state says stopped" {
	set_args sh -c 'echo bye; exit 3'
	console_run
	assert_line bye
	wait_for_status "$CID" stopped
}

@test "terminal: exec -t --console-socket in a container that has a terminal" {
	set_args sleep 1000
	local sock=$BATS_TEST_TMPDIR/console.sock
	update_config '.process.terminal = true'
	start_recvtty "$sock" -m file -o "$BATS_TEST_TMPDIR/init.out"
	run_detached create --console-socket "$sock" --bundle "$BUNDLE" "$CID"
	assert_success
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	runtime start "$CID"
	local sock2=$BATS_TEST_TMPDIR/exec.sock
	start_recvtty "$sock2" -m file -o "$BATS_TEST_TMPDIR/tty.out"
	run_detached exec -d -t --console-socket "$sock2" "$CID" sh -c 'tty; readlink /proc/1/fd/0'
	assert_success
	wait_recvtty
	run tty_out
	[ "${#lines[@]}" -eq 2 ] || fail "output: $output"
	[[ "${lines[0]}" =~ ^/dev/pts/[0-9]+$ ]] || fail "exec'd process: tty ${lines[0]}"
	# its own pty, not the one of the container's process
	[ "${lines[0]}" != "${lines[1]}" ] || fail "exec -t shares the init's pty ${lines[1]}"
}

@test "terminal: run relays the pty to the caller's terminal, both ways, with the exit code" {
	set_args sh -c 'tty; test -t 0 && echo is-a-tty; read l; echo "got:$l"; exit 3'
	update_config '.process.terminal = true'
	in_pty 'typed\n' '$RT run --bundle "$BUNDLE" "$CID"'
	[ "$status" -eq 3 ] || fail "exit status $status, wanted 3: $output"
	assert_line --regexp '^(.*)?/dev/pts/[0-9]+$'
	assert_line is-a-tty
	assert_line got:typed
	assert_no_containers
}

@test "terminal: run takes the caller's window size and restores its terminal mode" {
	set_args sh -c 'sleep 1; stty size'
	update_config '.process.terminal = true'
	in_pty '' 'stty rows 40 cols 100; before=$(stty -g); $RT run --bundle "$BUNDLE" "$CID"
		[ "$(stty -g)" = "$before" ] && echo restored'
	assert_success
	assert_line --regexp '^(.*)?40 100$'
	assert_line restored
}

@test "terminal: ^C typed at the caller's terminal interrupts the container's process" {
	set_args sh -c 'trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.1; done'
	update_config '.process.terminal = true'
	run env RT="$OCIRT --root $ROOT" BUNDLE="$BUNDLE" CID="$CID" bash -c \
		'{ sleep 1.5; printf "\003"; sleep 3; } | timeout 20 script -qec "\$RT run --bundle \"\$BUNDLE\" \"\$CID\"" /dev/null | tr -d "\r"
		exit "${PIPESTATUS[1]}"'
	[ "$status" -eq 9 ] || fail "exit status $status, wanted 9: $output"
	assert_line --partial got-int
}

@test "terminal: terminal true without --console-socket on create is an error" {
	update_config '.process.terminal = true'
	set_args true
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'terminal|tty' 'console.socket'
	assert_no_containers
}

@test "terminal: run -d with terminal true and no --console-socket is an error" {
	update_config '.process.terminal = true'
	set_args sleep 1000
	run_detached run -d --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'terminal|console'
	assert_no_containers
}

@test "terminal: a --console-socket nobody listens on is an error naming it" {
	update_config '.process.terminal = true'
	set_args true
	run_detached create --console-socket "$BATS_TEST_TMPDIR/nobody.sock" --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'nobody\.sock'
	assert_no_containers
}
