#!/usr/bin/env bats
# Podman rootless drives the runtime end to end (through conmon), on this
# host's cgroupfs manager. Storage is private to this file (vfs driver), so
# the test user's own Podman state is never touched.

load helpers

setup_file() {
	command -v podman >/dev/null || skip "podman is not installed (apt install podman)"
	# Podman refuses a runroot path longer than 50 characters.
	PSTORE=$(mktemp -d /tmp/ocpod.XXXXXX)
	export PSTORE
	mkdir -p "$PSTORE/root" "$PSTORE/run" "$PSTORE/tmp"
	local fx
	fx=$(fixture_dir)
	tar -C "$fx/rootfs" -cf "$PSTORE/bb.tar" .
	_podman import "$PSTORE/bb.tar" localhost/bb:latest >/dev/null
}

teardown_file() {
	[ -n "${PSTORE:-}" ] || return 0
	_podman system reset --force >/dev/null 2>&1 || true
	chmod -R u+rwX "$PSTORE" 2>/dev/null
	rm -rf "$PSTORE" 2>/dev/null || podman unshare rm -rf "$PSTORE" 2>/dev/null || true
}

# Podman with our runtime and this file's private storage. Bounded.
_podman() {
	# --foreground under a pty: timeout's own process group would be a
	# background group there and stop at its first terminal read.
	TMPDIR=$PSTORE/tmp timeout ${TIMEOUT_FG:+--foreground} --kill-after=5 60 podman --root "$PSTORE/root" --runroot "$PSTORE/run" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
		--runtime "${PODMAN_RUNTIME:-$OCIRT}" "$@"
}

setup() {
	command -v podman >/dev/null || skip "podman is not installed (apt install podman)"
	requires_ours "is the runtime these Podman tests drive"
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT"
	TRACKED_PIDS=()
	NAME=p$BATS_TEST_NUMBER
}

teardown() {
	_podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
}

# _tty INPUT PODMAN-ARGS...: podman under a real pty (script), typing INPUT
# once a second for up to 20 s: input typed before the container's terminal
# is attached can be lost, and INPUT ends the shell once it arrives.
_tty() {
	local input=$1 cmd="_podman" a
	shift
	for a in "$@"; do
		cmd+=" $(printf %q "$a")"
	done
	{
		local i
		for i in $(seq 20); do
			sleep 1
			printf '%s' "$input" || break
		done
	} 2>/dev/null |
		script -qec "$(declare -f _podman); export PSTORE=$PSTORE; TIMEOUT_FG=1; $cmd" /dev/null |
		tr -d '\r'
	return "${PIPESTATUS[1]}"
}

@test "podman: run --rm passes the exit code through" {
	run _podman run --rm localhost/bb true
	assert_success
	run _podman run --rm localhost/bb sh -c 'exit 5'
	assert_equal "$status" 5
	run _podman run --rm localhost/bb sh -c 'kill -9 $$; sleep 1; exit 0'
	assert_equal "$status" 0 # pid 1 of a pid namespace ignores SIGKILL from inside
}

@test "podman: run --rm output and uid inside" {
	run _podman run --rm localhost/bb id
	assert_success
	assert_output --partial "uid=0(root) gid=0(root)"
}

@test "podman: the same commands give the same output and status under runc" {
	[ -x /usr/sbin/runc ] || skip "runc is not installed"
	local cmd out_ours st_ours
	for cmd in 'id' 'cat /proc/self/uid_map' 'sh -c "exit 3"' 'hostname -s | wc -c' 'ls /proc/self/ns | sort'; do
		run _podman run --rm --hostname same localhost/bb sh -c "$cmd"
		out_ours=$output st_ours=$status
		PODMAN_RUNTIME=/usr/sbin/runc run _podman run --rm --hostname same localhost/bb sh -c "$cmd"
		assert_equal "$st_ours" "$status"
		assert_equal "$out_ours" "$output"
	done
}

@test "podman: run -d, logs, stop, rm" {
	run _podman run -d --name "$NAME" localhost/bb sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.2; done'
	assert_success
	local i
	for i in $(seq 50); do
		_podman logs "$NAME" 2>/dev/null | grep -q started && break
		sleep 0.1
	done
	run _podman logs "$NAME"
	assert_output --partial started
	run _podman stop -t 10 "$NAME"
	assert_success
	run _podman logs "$NAME"
	assert_output --partial got-term
	run _podman inspect --format '{{.State.ExitCode}}' "$NAME"
	assert_output 0
	run _podman rm "$NAME"
	assert_success
	run _podman ps -a -q --filter name="$NAME"
	assert_output ""
}

@test "podman: exec and its exit code" {
	_podman run -d --name "$NAME" localhost/bb sleep 1000 >/dev/null
	run _podman exec "$NAME" sh -c 'echo in-exec; id -u'
	assert_success
	assert_output "in-exec
0"
	run _podman exec "$NAME" sh -c 'exit 4'
	assert_equal "$status" 4
	run _podman exec --user 1000:1000 "$NAME" id -u
	assert_output 1000
	run _podman exec -e FOO=bar "$NAME" sh -c 'echo $FOO'
	assert_output bar
}

@test "podman: run -it through conmon's console socket" {
	run _tty "" run --rm -it localhost/bb sh -c 'tty; exit 3'
	assert_equal "$status" 3
	assert_output --partial /dev/pts/0
	run _tty $'echo inside-$((6*7)); exit 3\n' run --rm -it localhost/bb sh
	assert_equal "$status" 3
	assert_output --partial inside-42
}

@test "podman: exec -it through the console socket" {
	_podman run -d --name "$NAME" localhost/bb sleep 1000 >/dev/null
	run _tty $'tty; exit 2\n' exec -it "$NAME" sh
	assert_equal "$status" 2
	assert_output --partial /dev/pts/
}

@test "podman: kill -s delivers the signal" {
	_podman run -d --name "$NAME" localhost/bb sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.2; done' >/dev/null
	sleep 0.5
	run _podman kill -s USR1 "$NAME"
	assert_success
	local i
	for i in $(seq 50); do
		_podman logs "$NAME" 2>/dev/null | grep -q got-usr1 && break
		sleep 0.1
	done
	run _podman logs "$NAME"
	assert_output --partial got-usr1
}

@test "podman: top, ps and inspect" {
	_podman run -d --name "$NAME" localhost/bb sleep 1000 >/dev/null
	run _podman top "$NAME"
	assert_success
	assert_output --partial "sleep 1000"
	run _podman ps --filter name="$NAME" --format '{{.Names}} {{.Status}}'
	assert_output --regexp "^$NAME Up"
	run _podman inspect --format '{{.OCIRuntime}} {{.State.Status}}' "$NAME"
	assert_output --regexp "ocirt-rootless running$"
}

@test "podman: --userns=keep-id maps the caller to itself" {
	run _podman run --rm --userns=keep-id localhost/bb id -u
	assert_success
	assert_output "$(id -u)"
}

@test "podman: --user" {
	run _podman run --rm --user 1000:1000 localhost/bb id
	assert_success
	assert_output --regexp "uid=1000(\(1000\))? gid=1000"
}

@test "podman: --read-only" {
	run _podman run --rm --read-only localhost/bb touch /x
	assert_failure
	assert_output --partial "Read-only file system"
	run _podman run --rm --read-only localhost/bb touch /tmp/x
	assert_success
}

@test "podman: --cap-drop and --cap-add" {
	run _podman run --rm --cap-drop all localhost/bb grep CapEff /proc/self/status
	assert_output --regexp "CapEff:[[:space:]]+0000000000000000"
	run _podman run --rm --cap-drop all --cap-add NET_RAW localhost/bb grep CapEff /proc/self/status
	assert_output --regexp "CapEff:[[:space:]]+0000000000002000"
}

@test "podman: --security-opt seccomp=FILE" {
	cat >"$BATS_TEST_TMPDIR/seccomp.json" <<-'EOF'
	{"defaultAction": "SCMP_ACT_ALLOW",
	 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
	EOF
	run _podman run --rm --security-opt seccomp="$BATS_TEST_TMPDIR/seccomp.json" localhost/bb mkdir /tmp/d
	assert_failure
	assert_output --partial "Operation not permitted"
	run _podman run --rm --security-opt seccomp="$BATS_TEST_TMPDIR/seccomp.json" localhost/bb grep Seccomp: /proc/self/status
	assert_output --regexp "Seccomp:[[:space:]]+2"
}

@test "podman: --network none has only loopback" {
	run _podman run --rm --network none localhost/bb cat /proc/net/dev
	assert_success
	assert_output --partial "lo:"
	refute_output --partial "eth0"
	refute_output --partial "tap0"
}

# A busybox httpd in the container, published on 127.0.0.1, fetched from
# the host. Bounded wait; only loopback traffic.
_publish_test() {
	local net=$1 port
	port=$((20000 + RANDOM % 20000))
	_podman run -d --name "$NAME" --network "$net" -p "127.0.0.1:$port:8080" localhost/bb \
		sh -c 'mkdir -p /www && echo hello-from-ocirt >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
	local i body=""
	for i in $(seq 50); do
		body=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'; printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3' 2>/dev/null) &&
			[[ "$body" == *hello-from-ocirt* ]] && break
		sleep 0.2
	done
	[[ "$body" == *hello-from-ocirt* ]] || fail "no answer on 127.0.0.1:$port: $body"
}

@test "podman: --network slirp4netns -p publishes a port on loopback" {
	command -v slirp4netns >/dev/null || skip "slirp4netns is not installed"
	_publish_test slirp4netns
}

@test "podman: --network pasta -p publishes a port on loopback" {
	command -v pasta >/dev/null || skip "passt (pasta) is not installed"
	_podman info --format '{{.Host.Pasta.Executable}}' >/dev/null 2>&1 || skip "podman $(podman --version | awk '{print $3}') has no pasta support"
	_publish_test pasta
}

@test "podman: --restart on-failure restarts the container" {
	_podman run -d --name "$NAME" --restart on-failure:2 localhost/bb sh -c 'exit 1' >/dev/null
	local i n=0
	for i in $(seq 100); do
		n=$(_podman inspect --format '{{.RestartCount}}' "$NAME" 2>/dev/null || echo 0)
		[ "$n" -ge 1 ] && break
		sleep 0.1
	done
	[ "$n" -ge 1 ] || fail "RestartCount stayed $n"
}

@test "podman: a healthcheck runs in the container" {
	_podman run -d --name "$NAME" --health-cmd 'test -e /tmp/ok' localhost/bb sleep 1000 >/dev/null
	run _podman healthcheck run "$NAME"
	assert_failure
	_podman exec "$NAME" touch /tmp/ok
	run _podman healthcheck run "$NAME"
	assert_success
}

@test "podman: pause on this host fails with a clear message" {
	[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] || skip "cgroup v2 host: pause is tested in the VM tier"
	_podman run -d --name "$NAME" localhost/bb sleep 1000 >/dev/null
	run _podman pause "$NAME"
	assert_failure
	assert_output --regexp "cgroup|not supported"
}

@test "podman: the runtime registered by name in containers.conf" {
	local conf=$BATS_TEST_TMPDIR/containers.conf log=$BATS_TEST_TMPDIR/argv.log
	# A wrapper that records how Podman calls the runtime.
	cat >"$BATS_TEST_TMPDIR/ocirt-rootless" <<-EOF
	#!/bin/sh
	echo "\$*" >>"$log"
	exec "$OCIRT" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/ocirt-rootless"
	cat >"$conf" <<-EOF
	[engine]
	runtime_supports_json = ["crun", "runc", "ocirt-rootless"]
	runtime_supports_nocgroups = ["crun", "ocirt-rootless"]
	[engine.runtimes]
	ocirt-rootless = ["$BATS_TEST_TMPDIR/ocirt-rootless"]
	EOF
	CONTAINERS_CONF=$conf PODMAN_RUNTIME=ocirt-rootless run _podman run --rm localhost/bb echo by-name
	assert_success
	assert_output by-name
	grep -q -- '--log-format=json' "$log" || fail "Podman did not pass --log-format=json: $(cat "$log")"
	grep -qE ' create .*--bundle' "$log" || fail "no create call: $(cat "$log")"
}

@test "podman: system reset leaves nothing behind" {
	# a marker no other test (or concurrent run) uses
	local marker=$((700000 + RANDOM))
	_podman run -d --name "$NAME" localhost/bb sleep "$marker" >/dev/null
	run _podman system reset --force
	# Podman 4.3 races its own `container cleanup` (started by conmon when
	# the killed container exits), which can write into the storage root
	# while reset removes it; a second reset then finds the rest. Anything
	# else, or a second failure, fails the test.
	if [ "$status" -ne 0 ] && [[ $output == *"unlinkat "*"directory not empty"* ]]; then
		sleep 1
		run _podman system reset --force
	fi
	assert_success
	run --separate-stderr _podman ps -a -q
	assert_output ""
	pgrep -u "$(id -u)" -f "sleep $marker" && fail "a container process survived podman system reset"
	# re-import for any test that runs after this one
	_podman import "$PSTORE/bb.tar" localhost/bb:latest >/dev/null
}
