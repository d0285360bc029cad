#!/usr/bin/env bats
# OCI hooks: the six kinds, their order, the state on stdin, args, env,
# timeout, the namespaces they run in, and what a failing hook does to the
# lifecycle (runtime-spec runtime.md "Lifecycle", config.md "POSIX-platform
# Hooks").

load helpers

# Every hook below appends to $LOG/order and saves what it saw in $LOG.
# $LOG is inside the rootfs, so the startContainer hook (which runs in the
# container after pivot_root) reaches the same directory as /hooklog.
eval "$(declare -f setup | sed '1s/^setup/helpers_setup/')"
setup() {
	helpers_setup
	LOG=$BUNDLE/rootfs/hooklog
	mkdir -p "$LOG"
	BUNDLE_REAL=$(realpath "$BUNDLE")
}

# The script every recording hook runs: $1 = its name, $2 = the log
# directory as the hook sees it. It records the order, the state from stdin,
# its namespaces and its root's /etc/hostname.
RECORD='k=$1 d=$2
echo "$k" >>"$d/order"
cat >"$d/$k.json"
for n in mnt pid user uts ipc net cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done >"$d/$k.ns"
cat /etc/hostname >"$d/$k.root" 2>/dev/null || true'

# record_hook KIND [NAME]: a hook object that records as NAME (default KIND).
record_hook() {
	local kind=$1 name=${2:-$1} dir=$LOG
	[ "$kind" != startContainer ] || dir=/hooklog
	jq -nc --arg s "$RECORD" --arg k "$name" --arg d "$dir" \
		'{path: "/bin/sh", args: ["sh", "-c", $s, "hook", $k, $d], env: ["PATH=/usr/bin:/bin"]}'
}

# script_hook SCRIPT [TIMEOUT]: a hook object running /bin/sh -c SCRIPT.
script_hook() {
	local t=${2:-null}
	jq -nc --arg s "$1" --argjson t "$t" \
		'{path: "/bin/sh", args: ["sh", "-c", $s], env: ["PATH=/usr/bin:/bin"]}
		 + (if $t == null then {} else {timeout: $t} end)'
}

# add_hook KIND HOOK-JSON: append a hook of KIND to the config.
add_hook() {
	update_config '.hooks[$k] += [$h]' --arg k "$1" --argjson h "$2"
}

# record_all: one recording hook of each of the six kinds.
record_all() {
	local k
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		add_hook "$k" "$(record_hook "$k")"
	done
}

order() {
	tr '\n' ' ' <"$LOG/order" | sed 's/ $//'
}

# ns_of PID: "type link" lines of PID's namespaces, as the recording hook
# writes them (PID "self" for this shell).
ns_of() {
	local n
	for n in mnt pid user uts ipc net cgroup; do echo "$n $(readlink "/proc/$1/ns/$n")"; done
}

# create_ok: create $CID (stdio to files), fail the test on error.
create_ok() {
	run_detached create --bundle "$BUNDLE" "$CID"
	[ "$status" -eq 0 ] || fail "create failed ($status): $stderr"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
}

# assert_gone: no state for $CID and no process left of it.
assert_gone() {
	assert_no_containers
	[ ! -e "$ROOT/$CID" ] || fail "state dir $ROOT/$CID is left"
	local p
	for p in "${TRACKED_PIDS[@]}"; do
		wait_pid_gone "$p" 5 || fail "process $p is left"
	done
}

@test "hooks: the six kinds run in lifecycle order" {
	record_all
	set_args sleep 1000
	create_ok
	run order
	assert_output 'prestart createRuntime createContainer'
	run runtime start "$CID"
	assert_success
	run order
	assert_output 'prestart createRuntime createContainer startContainer poststart'
	runtime kill "$CID" KILL
	wait_for_status "$CID" stopped
	run runtime delete "$CID"
	assert_success
	run order
	assert_output 'prestart createRuntime createContainer startContainer poststart poststop'
}

@test "hooks: several hooks of one kind run in the order given" {
	add_hook createRuntime "$(record_hook createRuntime one)"
	add_hook createRuntime "$(record_hook createRuntime two)"
	add_hook createRuntime "$(record_hook createRuntime three)"
	add_hook poststop "$(record_hook poststop four)"
	add_hook poststop "$(record_hook poststop five)"
	run_ctr true
	assert_success
	run order
	assert_output 'one two three four five'
}

@test "hooks: run in the foreground runs all six, poststop after the process exited" {
	record_all
	run_ctr sh -c 'echo main >>/hooklog/order'
	assert_success
	assert_no_containers
	# poststart runs once the process runs: either may append first
	run grep -vx main "$LOG/order"
	assert_output 'prestart
createRuntime
createContainer
startContainer
poststart
poststop'
	run grep -n -x -e main -e startContainer -e poststop "$LOG/order"
	assert_output --regexp '^[0-9]+:startContainer
[0-9]+:main
[0-9]+:poststop$'

}

@test "hooks: the state on stdin has id, bundle and the status of each stage" {
	record_all
	update_config '.annotations = {"org.example.key": "value"}'
	set_args sleep 1000
	create_ok
	runtime start "$CID"
	runtime kill "$CID" KILL
	wait_for_status "$CID" stopped
	runtime delete "$CID"
	local k want
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		case $k in
		prestart | createRuntime | createContainer) want=creating ;;
		startContainer) want=created ;;
		poststart) want=running ;;
		poststop) want=stopped ;;
		esac
		[ -s "$LOG/$k.json" ] || fail "$k hook got no state on stdin"
		run jq -r '[.id, .status, .bundle, .annotations["org.example.key"], (.ociVersion | type)] | join(" ")' "$LOG/$k.json"
		[ "$output" = "$CID $want $BUNDLE_REAL value string" ] ||
			fail "$k hook: state '$output', wanted '$CID $want $BUNDLE_REAL value string': $(cat "$LOG/$k.json")"
	done
}

@test "hooks: the pid in the state is the container's as seen from the hook's namespace" {
	record_all
	set_args sleep 1000
	create_ok
	runtime start "$CID"
	local k pid
	# runtime namespace: the host pid; container namespace: the pid in the
	# container's pid namespace, i.e. 1 (runtime-spec runtime.md, State).
	for k in prestart createRuntime poststart; do
		pid=$(jq -r .pid "$LOG/$k.json")
		[ "$pid" = "$CPID" ] || fail "$k hook: pid $pid, wanted the host pid $CPID"
	done
	for k in createContainer startContainer; do
		pid=$(jq -r .pid "$LOG/$k.json")
		[ "$pid" = 1 ] || fail "$k hook: pid $pid, wanted 1 (the container process in its pid namespace)"
	done
}

@test "hooks: args are passed exactly, argv[0] included" {
	local s='printf "[%s]" "$0" "$@" >"$D/args"; tr "\0" "\n" </proc/$$/cmdline | head -n 1 >"$D/argv0"'
	add_hook createRuntime "$(jq -nc --arg s "$s" --arg d "D=$LOG" \
		'{path: "/bin/sh", args: ["my-hook-name", "-c", $s, "zero", "a b", "", "*", "$HOME"], env: [$d]}')"
	run_ctr true
	assert_success
	run cat "$LOG/args"
	assert_output '[zero][a b][][*][$HOME]'
	run cat "$LOG/argv0"
	assert_output my-hook-name
}

@test "hooks: env is exactly the hook's, nothing from the runtime's" {
	export OCIRT_HOST_ONLY_VAR=leak
	local s="tr '\\0' '\\n' </proc/\$\$/environ"
	add_hook prestart "$(jq -nc --arg s "$s >$LOG/env" '{path: "/bin/sh", args: ["sh", "-c", $s],
		env: ["A=1", "B=two words", "EMPTY="]}')"
	add_hook poststop "$(jq -nc --arg s "$s >$LOG/env2" '{path: "/bin/sh", args: ["sh", "-c", $s]}')"
	run_ctr true
	assert_success
	run cat "$LOG/env"
	assert_output 'A=1
B=two words
EMPTY='
	# no env at all: an empty environment
	run cat "$LOG/env2"
	assert_output ''
}

@test "hooks: a hook that does not read its stdin does not stall or fail the runtime" {
	# A state bigger than a pipe buffer, for a hook that never reads it.
	head -c 100000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/big"
	update_config '.annotations = {"big": $b}' --rawfile b "$BATS_TEST_TMPDIR/big"
	add_hook createRuntime "$(script_hook 'exit 0')"
	add_hook poststart "$(script_hook 'exec </dev/null; sleep 0.2')"
	run_ctr echo 'done'
	assert_success
	assert_output 'done'
}

@test "hooks: a failing prestart hook fails create, names it, leaves nothing" {
	add_hook prestart "$(script_hook 'exit 3')"
	set_args sleep 1000
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'prestart' 'status 3'
	assert_gone
}

@test "hooks: a failing createRuntime hook fails create, names it, leaves nothing" {
	add_hook createRuntime "$(script_hook 'exit 4')"
	set_args sleep 1000
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'createRuntime' 'status 4'
	assert_gone
}

@test "hooks: a failing createContainer hook fails create, names it, leaves nothing" {
	# The hook's parent is the container's init: it must be gone afterwards.
	# Before pivot_root /proc is still the host's: its pids are host pids.
	add_hook createContainer "$(script_hook 'read -r _ _ _ ppid _ </proc/self/stat; echo $ppid >'"$LOG"'/init-pid; exit 5')"
	set_args sleep 1000
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'createContainer' 'status 5'
	[ -s "$LOG/init-pid" ] || fail "the createContainer hook did not run"
	TRACKED_PIDS+=("$(cat "$LOG/init-pid")")
	assert_gone
}

@test "hooks: a failing startContainer hook fails start, names it, and the container is destroyed" {
	# runtime-spec lifecycle step 7: stop the container and continue at
	# step 12 (destroy it), so nothing of it is left.
	add_hook startContainer "$(script_hook 'exit 6')"
	set_args sleep 1000
	create_ok
	run --separate-stderr runtime start "$CID"
	assert_runtime_error 'startContainer' 'status 6'
	assert_gone
}

@test "hooks: after a failing createRuntime hook the poststop hooks still run" {
	# runtime-spec lifecycle steps 4, 12 and 13: a failing createRuntime
	# hook continues the lifecycle at step 12, which is followed by the
	# poststop hooks.
	add_hook createRuntime "$(script_hook 'exit 1')"
	add_hook poststop "$(record_hook poststop)"
	set_args sleep 1000
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error createRuntime
	assert_gone
	[ -s "$LOG/order" ] || fail "the poststop hook did not run after the failed create"
	run order
	assert_output poststop
}

@test "hooks: a hook killed by a signal fails create with the signal named" {
	add_hook createRuntime "$(script_hook 'kill -KILL $$')"
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error createRuntime 'signal|KILL'
	assert_gone
}

@test "hooks: timeout kills a slow createRuntime hook and fails create" {
	add_hook createRuntime "$(script_hook 'echo $$ >'"$LOG"'/slow-pid; exec sleep 60' 1)"
	set_args sleep 1000
	local t0=$SECONDS
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error createRuntime 'time'
	[ $((SECONDS - t0)) -lt 10 ] || fail "create took $((SECONDS - t0))s with a 1s hook timeout"
	[ -s "$LOG/slow-pid" ] || fail "the hook did not run"
	wait_pid_gone "$(cat "$LOG/slow-pid")" 5 || fail "the timed-out hook is still running"
	assert_gone
}

@test "hooks: timeout of a startContainer hook fails start, not create" {
	add_hook startContainer "$(script_hook 'exec sleep 61.25' 1)"
	set_args sleep 1000
	create_ok
	local t0=$SECONDS
	run --separate-stderr runtime start "$CID"
	assert_runtime_error startContainer 'time'
	[ $((SECONDS - t0)) -lt 10 ] || fail "start took $((SECONDS - t0))s with a 1s hook timeout"
	sleep 0.2
	run pgrep -u "$(id -u)" -f 'sleep 61[.]25'
	[ -z "$output" ] || fail "the timed-out hook is still running: $output"
}

@test "hooks: a hook within its timeout succeeds" {
	add_hook createRuntime "$(script_hook 'sleep 0.2' 5)"
	run_ctr echo ok
	assert_success
	assert_output ok
}

@test "hooks: a failing poststart hook is a warning and the container keeps running" {
	add_hook poststart "$(script_hook 'exit 7')"
	set_args sleep 1000
	create_ok
	run --separate-stderr runtime start "$CID"
	assert_success
	[[ "$stderr" == *poststart* ]] || fail "no warning naming the poststart hook: '$stderr'"
	run state_field "$CID" .status
	assert_output running
	pid_alive "$CPID" || fail "the container process died"
}

@test "hooks: a failing poststart hook is a warning for run too, and the next hooks run" {
	add_hook poststart "$(script_hook 'exit 7')"
	add_hook poststart "$(record_hook poststart after)"
	run_ctr echo still-here
	assert_success
	assert_output still-here
	assert_stderr_contains poststart
	[ -s "$LOG/order" ] || fail "the poststart hook after the failing one did not run"
	run order
	assert_output after
}

@test "hooks: a failing poststop hook is a warning and delete succeeds" {
	add_hook poststop "$(script_hook 'exit 8')"
	add_hook poststop "$(record_hook poststop after)"
	set_args sleep 1000
	create_ok
	runtime start "$CID"
	runtime kill "$CID" KILL
	wait_for_status "$CID" stopped
	run --separate-stderr runtime delete "$CID"
	assert_success
	[[ "$stderr" == *poststop* ]] || fail "no warning naming the poststop hook: '$stderr'"
	assert_no_containers
	# the remaining hooks still run (runtime-spec lifecycle step 13)
	[ -s "$LOG/order" ] || fail "the poststop hook after the failing one did not run"
	run order
	assert_output after
}

@test "hooks: createContainer and startContainer run in the container's namespaces" {
	record_all
	set_args sleep 1000
	create_ok
	runtime start "$CID"
	local want k
	want=$(ns_of "$CPID")
	for k in createContainer startContainer; do
		run cat "$LOG/$k.ns"
		[ "$output" = "$want" ] || fail "$k hook namespaces:
$output
container init's:
$want"
	done
	# createContainer runs before pivot_root, startContainer after it
	run cat "$LOG/startContainer.root"
	assert_output "$(cat "$BUNDLE/rootfs/etc/hostname")"
}

@test "hooks: prestart, createRuntime, poststart and poststop run in the runtime's namespaces" {
	record_all
	set_args sleep 1000
	create_ok
	runtime start "$CID"
	runtime kill "$CID" KILL
	wait_for_status "$CID" stopped
	runtime delete "$CID"
	local want k
	want=$(ns_of self)
	# the container really has namespaces of its own
	[ "$(cat "$LOG/createContainer.ns")" != "$want" ] || fail "the container has the runtime's namespaces"
	for k in prestart createRuntime poststart poststop; do
		run cat "$LOG/$k.ns"
		[ "$output" = "$want" ] || fail "$k hook namespaces:
$output
runtime's:
$want"
	done
}
