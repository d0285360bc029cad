#!/usr/bin/env bats
# Container lifecycle: run, create/start/state/kill/delete, exit codes,
# pid files, signals, and that nothing is left behind.

load helpers

# A bind-mounted host directory the container can report through.
with_outdir() {
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
	add_mount /out none "$OUT" rbind rw
}

# A config without pid namespace, so the process is not a namespace's init
# and dies of signals it sends itself. A fresh proc mount needs an own pid
# namespace: bind the host's /proc instead.
without_pidns() {
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .mounts |= map(if .destination == "/proc"
			then {destination: "/proc", type: "bind", source: "/proc",
				options: ["rbind", "nosuid", "nodev", "noexec"]}
			else . end)'
}

@test "lifecycle: run exits 0 for a successful process" {
	run_ctr true
	assert_success
	assert_no_containers
}

@test "lifecycle: run exits with the container's exit code" {
	run_ctr sh -c 'exit 3'
	assert_failure 3
	run_ctr sh -c 'exit 255'
	assert_failure 255
	assert_no_containers
}

@test "lifecycle: run exits 128+N when the process is killed by signal N" {
	without_pidns
	run_ctr sh -c 'kill -9 $$'
	assert_failure 137
	run_ctr sh -c 'kill -TERM $$'
	assert_failure 143
	assert_no_containers
}

@test "lifecycle: run exits 137 when the container is killed with kill KILL" {
	set_args sleep 1000
	runtime run --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 &
	local rpid=$!
	wait_for_status "$CID" running
	runtime kill "$CID" KILL
	local rc=0
	wait "$rpid" || rc=$?
	[ "$rc" -eq 137 ] || fail "run exited $rc, wanted 137"
	assert_no_containers
}

@test "lifecycle: create, start, state, stop and delete" {
	with_outdir
	set_args sh -c 'echo started > /out/started; sleep 1000'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_success
	run state_field "$CID" .status
	assert_output created
	local pid
	pid=$(state_field "$CID" .pid)
	pid_alive "$pid" || fail "init process $pid of a created container is not alive"
	TRACKED_PIDS+=("$pid")
	# create must not run the user's process yet
	sleep 0.3
	[ ! -e "$OUT/started" ] || fail "process ran before start"

	run runtime start "$CID"
	assert_success
	wait_for_file "$OUT/started"
	run state_field "$CID" .status
	assert_output running
	run state_field "$CID" .pid
	assert_output "$pid"

	runtime kill "$CID" KILL
	wait_for_status "$CID" stopped
	wait_pid_gone "$pid"

	run runtime delete "$CID"
	assert_success
	run runtime state "$CID"
	assert_failure
	assert_no_containers
	[ ! -e "$ROOT/$CID" ] || fail "state dir $ROOT/$CID left after delete"
}

@test "lifecycle: a container whose process exits is stopped and can be deleted" {
	set_args true
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1
	runtime start "$CID"
	wait_for_status "$CID" stopped
	run runtime delete "$CID"
	assert_success
	assert_no_containers
}

@test "lifecycle: state reports the runtime-spec fields" {
	update_config '.annotations = {"org.example.key": "value 1"}'
	start_detached
	run runtime state "$CID"
	assert_success
	local st=$output
	run jq -r '.ociVersion' <<<"$st"
	assert_output --regexp '^1\.[0-9]+\.[0-9]+'
	run jq -r '.id' <<<"$st"
	assert_output "$CID"
	run jq -r '.status' <<<"$st"
	assert_output running
	run jq -r '.pid' <<<"$st"
	assert_output "$CPID"
	run jq -r '.bundle' <<<"$st"
	assert_output "$BUNDLE"
	run jq -r '.rootfs' <<<"$st"
	assert_output "$BUNDLE/rootfs"
	run jq -r '.annotations["org.example.key"]' <<<"$st"
	assert_output 'value 1'
	run jq -r '.created' <<<"$st"
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'
	run jq -r 'has("owner")' <<<"$st"
	assert_output true
	# the process really is the one named by pid, owned by the caller on the host
	run stat -c %u "/proc/$CPID"
	assert_output "$HOST_UID"
}

@test "lifecycle: state of an unknown container fails naming it" {
	run --separate-stderr runtime state no-such-ctr
	assert_runtime_error "$(ours_or 'no-such-ctr' 'not exist')"
}

@test "lifecycle: --pid-file holds the container's pid" {
	set_args sleep 1000
	run_detached create --pid-file "$BATS_TEST_TMPDIR/pidfile" --bundle "$BUNDLE" "$CID"
	assert_success
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pidfile")
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "pid file holds '$pid'"
	run state_field "$CID" .pid
	assert_output "$pid"
	pid_alive "$pid"
}

@test "lifecycle: a relative --pid-file is relative to the current directory" {
	set_args sleep 1000
	mkdir "$BATS_TEST_TMPDIR/cwd"
	cd "$BATS_TEST_TMPDIR/cwd"
	runtime run -d --pid-file rel.pid --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1
	[ -s "$BATS_TEST_TMPDIR/cwd/rel.pid" ]
	run state_field "$CID" .pid
	assert_output "$(cat "$BATS_TEST_TMPDIR/cwd/rel.pid")"
}

@test "lifecycle: run -d returns at once and leaves the container running" {
	set_args sleep 1000
	local t0=$SECONDS
	run_detached run -d --bundle "$BUNDLE" "$CID"
	assert_success
	[ $((SECONDS - t0)) -lt 10 ] || fail "run -d took $((SECONDS - t0))s"
	run state_field "$CID" .status
	assert_output running
	local pid
	pid=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$pid")
	pid_alive "$pid"
	run cat "/proc/$pid/cmdline"
	assert_output --partial sleep
}

@test "lifecycle: kill sends SIGTERM by default" {
	with_outdir
	start_detached sh -c 'trap "echo TERM > /out/sig; exit 0" TERM; echo ready > /out/ready; while :; do sleep 0.05; done'
	wait_for_file "$OUT/ready"
	run runtime kill "$CID"
	assert_success
	wait_for_file "$OUT/sig"
	run cat "$OUT/sig"
	assert_output TERM
	wait_for_status "$CID" stopped
}

@test "lifecycle: kill accepts signal names, SIG names and numbers" {
	with_outdir
	local sig
	for sig in USR1 SIGUSR1 10; do
		rm -f "$OUT/sig" "$OUT/ready"
		start_detached sh -c 'trap "echo USR1 > /out/sig; exit 0" USR1; echo ready > /out/ready; while :; do sleep 0.05; done'
		wait_for_file "$OUT/ready"
		run runtime kill "$CID" "$sig"
		assert_success
		wait_for_file "$OUT/sig" || fail "signal $sig not delivered as SIGUSR1"
		wait_for_status "$CID" stopped
		runtime delete "$CID"
	done
	for sig in KILL SIGKILL 9; do
		start_detached
		run runtime kill "$CID" "$sig"
		assert_success
		wait_for_status "$CID" stopped
		wait_pid_gone "$CPID"
		runtime delete "$CID"
	done
}

@test "lifecycle: kill with an unknown signal fails and leaves the container running" {
	start_detached
	run --separate-stderr runtime kill "$CID" NOSUCHSIG
	assert_runtime_error 'NOSUCHSIG|signal'
	run state_field "$CID" .status
	assert_output running
	pid_alive "$CPID"
}

@test "lifecycle: kill --all signals every process of the container" {
	requires_ours "support kill --all without cgroups (this host's are not delegated)"
	with_outdir
	start_detached sh -c '
		child() { trap "echo $1 > /out/got-$1; exit 0" USR1; while :; do sleep 0.05; done; }
		child a & child b &
		trap "echo init > /out/got-init" USR1
		echo ready > /out/ready
		while :; do sleep 0.05; done'
	wait_for_file "$OUT/ready"
	run runtime kill --all "$CID" USR1
	assert_success
	wait_for_file "$OUT/got-a"
	wait_for_file "$OUT/got-b"
	wait_for_file "$OUT/got-init"
	run runtime kill --all "$CID" KILL
	assert_success
	wait_for_status "$CID" stopped
}

@test "lifecycle: delete refuses a running container without --force" {
	start_detached
	run --separate-stderr runtime delete "$CID"
	assert_runtime_error 'running|force'
	run state_field "$CID" .status
	assert_output running
	pid_alive "$CPID"
}

@test "lifecycle: delete --force kills and removes a running container" {
	with_outdir
	start_detached sh -c 'sleep 1000 & echo ready > /out/ready; wait'
	wait_for_file "$OUT/ready"
	local kids
	kids=$(descendants "$CPID")
	run runtime delete --force "$CID"
	assert_success
	local p
	for p in $CPID $kids; do
		wait_pid_gone "$p"
	done
	run runtime state "$CID"
	assert_failure
	assert_no_containers
	[ ! -e "$ROOT/$CID" ]
}

@test "lifecycle: delete --force removes a created container" {
	set_args sleep 1000
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1
	local pid
	pid=$(state_field "$CID" .pid)
	pid_alive "$pid"
	run runtime delete -f "$CID"
	assert_success
	wait_pid_gone "$pid"
	run runtime state "$CID"
	assert_failure
	assert_no_containers
}

@test "lifecycle: delete of an unknown container fails naming it" {
	run --separate-stderr runtime delete no-such-ctr
	assert_runtime_error "$(ours_or 'no-such-ctr' 'not exist')"
}

@test "lifecycle: starting a container twice fails" {
	start_detached
	run --separate-stderr runtime start "$CID"
	assert_runtime_error
	run state_field "$CID" .status
	assert_output running
}

@test "lifecycle: creating the same id twice fails and keeps the first" {
	set_args sleep 1000
	runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1
	local pid
	pid=$(state_field "$CID" .pid)
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error "$CID|exists"
	run state_field "$CID" .status
	assert_output created
	run state_field "$CID" .pid
	assert_output "$pid"
	pid_alive "$pid"
}

@test "lifecycle: foreground run forwards SIGTERM to the container" {
	with_outdir
	set_args sh -c 'trap "echo got TERM; exit 7" TERM; echo ready > /out/ready; while :; do sleep 0.05; done'
	runtime run --bundle "$BUNDLE" "$CID" </dev/null >"$BATS_TEST_TMPDIR/fg.out" 2>&1 &
	local tpid=$! rpid
	wait_for_file "$OUT/ready"
	# $! is the timeout wrapper; signal the runtime itself.
	rpid=$(pgrep -P "$tpid" | head -n 1)
	[ -n "$rpid" ] || fail "runtime process not found"
	kill -TERM "$rpid"
	local rc=0
	wait "$tpid" || rc=$?
	run cat "$BATS_TEST_TMPDIR/fg.out"
	assert_output --partial 'got TERM'
	[ "$rc" -eq 7 ] || fail "run exited $rc, wanted the container's 7"
	assert_no_containers
}

@test "lifecycle: the container's init is pid 1 of its own pid namespace" {
	run_ctr sh -c 'echo $$'
	assert_success
	assert_output 1
}
