#!/usr/bin/env bats
# Cgroups with real systemd and cgroup v2 only: the VM tier (run-vm.sh).
# Runs as a lingering user inside its systemd user manager, whose
# user@.service delegates cpu cpuset io memory pids. Shows that limits
# bite (OOM kill + event, pids.max, cpu.max throttling), that update,
# pause/resume and kill --all work, that the systemd scope comes and goes,
# and the cgroupfs manager inside `systemd-run --user --scope -p Delegate=yes`.

load ../bats/helpers

requires_systemd_v2() {
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || skip "needs cgroup v2 only (the VM tier)"
	[ -d /run/systemd/system ] && [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ] ||
		skip "needs a systemd user session (the VM tier)"
	requires_ours "have a systemd cgroup manager"
}

# helpers.bash's setup, kept as helpers_setup and wrapped.
eval "$(declare -f setup | sed '1s/^setup/helpers_setup/')"
setup() {
	requires_systemd_v2
	helpers_setup
}

# The container init's cgroup directory.
cg_dir() {
	echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$1/cgroup")"
}

record() {
	jq -r ".extra.cgroup.$1 // empty" "$ROOT/$CID/state.json"
}

with_limits() {
	update_config '.linux.resources = {memory: {limit: 67108864}, pids: {limit: 64},
		cpu: {shares: 512, quota: 50000, period: 100000}}'
}

# No pid namespace (kill --all must go through the cgroup), and so no /proc.
without_pidns() {
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .mounts |= map(select(.destination != "/proc"))'
}

# wait_until SECONDS CMD...: poll CMD until it succeeds.
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

@test "vm: the systemd manager puts the container in a scope with its limits" {
	with_limits
	start_detached sleep 1000
	[ ! -s "$BATS_TEST_TMPDIR/detached.err" ] || fail "unexpected stderr: $(cat "$BATS_TEST_TMPDIR/detached.err")"
	[ "$(record manager)" = systemd ] || fail "manager: $(record manager)"
	local unit cg
	unit=$(record unit)
	[ "$unit" = "ocirt-$CID.scope" ] || fail "unit: $unit"
	systemctl --user is-active -q "$unit" || fail "$unit is not active"
	systemctl --user list-units --type=scope --no-legend | grep -q "$unit" || fail "systemctl --user does not list $unit"
	cg=$(cg_dir "$CPID")
	[[ "$cg" == */user.slice/"$unit" ]] || fail "container cgroup $cg is not the scope in user.slice"
	[ "$(record path)" = "$cg" ] || fail "state path $(record path) != $cg"
	[ "$(cat "$cg/memory.max")" = 67108864 ] || fail "memory.max $(cat "$cg/memory.max")"
	[ "$(cat "$cg/pids.max")" = 64 ] || fail "pids.max $(cat "$cg/pids.max")"
	[ "$(cat "$cg/cpu.max")" = "50000 100000" ] || fail "cpu.max $(cat "$cg/cpu.max")"
	[ "$(cat "$cg/cpu.weight")" = 59 ] || fail "cpu.weight $(cat "$cg/cpu.weight")"
	[ "$(systemctl --user show -P MemoryMax "$unit")" = 67108864 ] || fail "MemoryMax property"
	[ "$(systemctl --user show -P TasksMax "$unit")" = 64 ] || fail "TasksMax property"
	[ "$(systemctl --user show -P Delegate "$unit")" = yes ] || fail "Delegate property"
}

@test "vm: the limits are visible in the container's own cgroup files" {
	with_limits
	# A cgroup namespace and cgroup2 on /sys/fs/cgroup. Not over the
	# fixture's rbind of the host's /sys: the kernel refuses (EBUSY) to
	# mount the one cgroup2 superblock on a mount point that already shows
	# it, and the runtime then falls back to a bind of the host's view.
	update_config '.linux.namespaces += [{type: "cgroup"}]
		| .mounts |= map(select(.destination != "/sys"))
		| .mounts += [{destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
			options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}]'
	run_ctr sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max'
	assert_success
	assert_line '0::/'
	assert_line 67108864
	assert_line 64
	assert_line '50000 100000'
}

@test "vm: the container reads its limits through /sys without a cgroup namespace" {
	with_limits
	run_ctr sh -c 'd=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); cat $d/memory.max $d/pids.max'
	assert_success
	assert_line 67108864
	assert_line 64
}

@test "vm: a memory hog above memory.max is OOM-killed and events reports it" {
	update_config '.linux.resources = {memory: {limit: 33554432, swap: 33554432}}'
	start_detached sh -c 'sleep 3; dd if=/dev/zero of=/dev/null bs=64M count=2; echo dd=$? >/tmp/dd; sleep 1000'
	local ev=$BATS_TEST_TMPDIR/events
	"$OCIRT" --root "$ROOT" events --interval 1s "$CID" >"$ev" 2>&1 &
	local epid=$!
	wait_until 60 grep -q '"type":"oom"' "$ev" || { kill "$epid"; fail "no oom event: $(cat "$ev")"; }
	kill "$epid"
	wait "$epid" 2>/dev/null || true
	grep -q "\"id\":\"$CID\"" "$ev" || fail "events lack the id"
	grep -qE '^oom_kill [1-9]' "$(cg_dir "$CPID")/memory.events" || fail "memory.events: $(cat "$(cg_dir "$CPID")/memory.events")"
	wait_for_file "$BUNDLE/rootfs/tmp/dd"
	grep -q 'dd=137' "$BUNDLE/rootfs/tmp/dd" || fail "dd was not SIGKILLed: $(cat "$BUNDLE/rootfs/tmp/dd")"
	[ "$(state_field "$CID" .status)" = running ] || fail "the container itself should survive"
}

@test "vm: a fork loop stops at pids.max" {
	update_config '.linux.resources = {pids: {limit: 10}}'
	# The inner shell dies when fork fails at the limit; the init lives on.
	start_detached sh -c 'sh -c "for i in \$(seq 1 30); do sleep 1000 & done" 2>/dev/null; echo forked >/tmp/done; exec sleep 1000'
	wait_for_file "$BUNDLE/rootfs/tmp/done" 30
	local cg
	cg=$(cg_dir "$CPID")
	[ "$(cat "$cg/pids.current")" -le 10 ] || fail "pids.current $(cat "$cg/pids.current") above 10"
	grep -qE '^max [1-9]' "$cg/pids.events" || fail "pids.events: $(cat "$cg/pids.events")"
	run runtime events --stats "$CID"
	assert_success
	[ "$(jq .data.pids.limit <<<"$output")" = 10 ] || fail "stats pids: $output"
}

@test "vm: cpu.max throttling shows in cpu.stat" {
	update_config '.linux.resources = {cpu: {quota: 10000, period: 100000}}'
	start_detached sh -c 'while :; do :; done'
	local cg
	cg=$(cg_dir "$CPID")
	wait_until 30 awk '$1 == "nr_throttled" && $2 > 3 { ok = 1 } END { exit !ok }' "$cg/cpu.stat" ||
		fail "not throttled: $(cat "$cg/cpu.stat")"
	run runtime events --stats "$CID"
	assert_success
	jq -e '.data.cpu.throttling.throttledPeriods > 0 and .data.cpu.usage.total > 0' <<<"$output" >/dev/null ||
		fail "stats: $output"
}

@test "vm: update changes the limits of a running container (files and unit properties)" {
	with_limits
	start_detached sleep 1000
	local cg unit
	cg=$(cg_dir "$CPID")
	unit=$(record unit)
	runtime update --memory 48m --pids-limit 20 --cpu-quota 20000 "$CID"
	[ "$(cat "$cg/memory.max")" = 50331648 ] || fail "memory.max $(cat "$cg/memory.max")"
	[ "$(cat "$cg/pids.max")" = 20 ] || fail "pids.max $(cat "$cg/pids.max")"
	[ "$(cat "$cg/cpu.max")" = "20000 100000" ] || fail "cpu.max $(cat "$cg/cpu.max")"
	[ "$(systemctl --user show -P MemoryMax "$unit")" = 50331648 ] || fail "MemoryMax not updated"
	[ "$(systemctl --user show -P TasksMax "$unit")" = 20 ] || fail "TasksMax not updated"
	echo '{"memory": {"limit": 41943040}, "cpu": {"period": 200000}}' >"$BATS_TEST_TMPDIR/r.json"
	runtime update --resources "$BATS_TEST_TMPDIR/r.json" "$CID"
	[ "$(cat "$cg/memory.max")" = 41943040 ] || fail "memory.max from file: $(cat "$cg/memory.max")"
	[ "$(cat "$cg/cpu.max")" = "20000 200000" ] || fail "a new period keeps the quota: $(cat "$cg/cpu.max")"
	[ "$(cat "$cg/pids.max")" = 20 ] || fail "fields not in the file stay"
}

@test "vm: pause freezes and resume thaws" {
	start_detached sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done'
	wait_for_file "$BUNDLE/rootfs/tmp/count"
	local cg a b
	cg=$(cg_dir "$CPID")
	runtime pause "$CID"
	[ "$(state_field "$CID" .status)" = paused ] || fail "not paused"
	grep -qx 'frozen 1' "$cg/cgroup.events" || fail "cgroup.events: $(cat "$cg/cgroup.events")"
	a=$(cat "$BUNDLE/rootfs/tmp/count")
	sleep 1
	b=$(cat "$BUNDLE/rootfs/tmp/count")
	[ "$a" = "$b" ] || fail "counter moved while paused"
	runtime resume "$CID"
	[ "$(state_field "$CID" .status)" = running ] || fail "not running after resume"
	wait_until 10 test "$(cat "$BUNDLE/rootfs/tmp/count")" -gt "$a" || fail "counter did not move after resume"
}

@test "vm: kill --all reaches every process of the scope" {
	without_pidns
	start_detached sh -c 'setsid sleep 1000 & sleep 1001 & wait'
	local cg pids
	cg=$(cg_dir "$CPID")
	wait_until 10 test "$(wc -l <"$cg/cgroup.procs")" -ge 3 || fail "cgroup.procs: $(cat "$cg/cgroup.procs")"
	pids=$(cat "$cg/cgroup.procs")
	runtime kill --all "$CID" KILL
	for pid in $pids; do
		wait_pid_gone "$pid" || fail "$pid survived kill --all"
	done
}

@test "vm: exec joins the scope; delete removes it" {
	start_detached sleep 1000
	local cg unit epid
	cg=$(cg_dir "$CPID")
	unit=$(record unit)
	runtime exec -d --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$CID" sleep 999 </dev/null >/dev/null 2>&1 || fail "exec failed"
	epid=$(cat "$BATS_TEST_TMPDIR/exec.pid")
	[ "$(cg_dir "$epid")" = "$cg" ] || fail "exec'd process in $(cg_dir "$epid"), not $cg"
	runtime delete --force "$CID"
	wait_pid_gone "$epid"
	[ ! -d "$cg" ] || fail "cgroup $cg left"
	! systemctl --user is-active -q "$unit" || fail "$unit still active"
	! systemctl --user list-units --all --no-legend | grep -q "$unit" || fail "$unit still listed"
}

@test "vm: linux.cgroupsPath slice:prefix:name names the scope and its slice" {
	update_config '.linux.cgroupsPath = $p' --arg p "ocirtbats.slice:bats:box$CID"
	start_detached sleep 1000
	[ "$(record unit)" = "bats-box$CID.scope" ] || fail "unit $(record unit)"
	[[ "$(cg_dir "$CPID")" == */ocirtbats.slice/bats-box$CID.scope ]] || fail "cgroup $(cg_dir "$CPID")"
	update_config '.linux.cgroupsPath = "/not/systemd/form"'
	run --separate-stderr runtime --systemd-cgroup run --bundle "$BUNDLE" c2 </dev/null
	assert_runtime_error 'linux.cgroupsPath' 'slice:prefix:name'
}

@test "vm: a cgroupsPath that is a path makes auto pick cgroupfs, as runc without --systemd-cgroup" {
	update_config '.linux.cgroupsPath = $p' --arg p "box/$CID"
	start_detached sleep 1000
	[ "$(record manager)" = cgroupfs ] || fail "manager $(record manager)"
	local cg
	cg=$(cg_dir "$CPID")
	[[ "$cg" == */box/$CID ]] || fail "cgroup $cg"
	runtime delete --force "$CID"
	[ ! -d "$cg" ] || fail "cgroup $cg left"
}

@test "vm: cgroupfs inside systemd-run --user --scope -p Delegate=yes, with limits" {
	with_limits
	set_args sleep 1000
	systemd-run --user --scope -p Delegate=yes --quiet -- \
		"$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs run -d --bundle "$BUNDLE" "$CID" \
		</dev/null >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" || fail "run: $(cat "$BATS_TEST_TMPDIR/err")"
	[ ! -s "$BATS_TEST_TMPDIR/err" ] || fail "unexpected stderr: $(cat "$BATS_TEST_TMPDIR/err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	[ "$(record manager)" = cgroupfs ] || fail "manager $(record manager)"
	local cg scope
	cg=$(cg_dir "$CPID")
	scope=$(dirname "$cg")
	[[ "$scope" == *.scope ]] && [ "$(basename "$cg")" = "$CID" ] || fail "container cgroup $cg is not SCOPE/$CID"
	[ "$(cat "$cg/memory.max")" = 67108864 ] && [ "$(cat "$cg/pids.max")" = 64 ] &&
		[ "$(cat "$cg/cpu.max")" = "50000 100000" ] || fail "limits not written in $cg"
	for c in cpu memory pids; do
		grep -qw "$c" "$scope/cgroup.subtree_control" || fail "$c not enabled in $scope"
	done
	# The scope's own processes (the runtime) went to a leaf first.
	[ -d "$scope/ocirt-leaf" ] || fail "no leaf cgroup in $scope"
	runtime pause "$CID"
	grep -qx 'frozen 1' "$cg/cgroup.events" || fail "not frozen"
	runtime resume "$CID"
	runtime delete --force "$CID"
	[ ! -d "$cg" ] || fail "cgroup left"
}

@test "vm: a controller the cgroup lacks gives one warning naming it and the Delegate= fix" {
	update_config '.linux.resources = {cpu: {quota: 20000, period: 100000}, pids: {limit: 30}}'
	set_args sleep 1000
	# A scope of its own slice that only has memory and pids delegated.
	systemd-run --user --scope --slice=ocirtnocpu.slice -p "Delegate=memory pids" --quiet -- \
		"$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs run -d --bundle "$BUNDLE" "$CID" \
		</dev/null >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" || fail "run: $(cat "$BATS_TEST_TMPDIR/err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	local err
	err=$(cat "$BATS_TEST_TMPDIR/err")
	[ "$(grep -c . <<<"$err")" -eq 1 ] || fail "want one warning line: $err"
	grep -q 'controllers cpu are not delegated' <<<"$err" || fail "warning does not name cpu: $err"
	grep -q 'Delegate=cpu cpuset io memory pids' <<<"$err" || fail "warning lacks the drop-in: $err"
	[ "$(cat "$(cg_dir "$CPID")/pids.max")" = 30 ] || fail "the delegated pids limit was not applied"
	OCIRT_CGROUP_STRICT=1 run --separate-stderr systemd-run --user --scope --slice=ocirtnocpu.slice \
		-p "Delegate=memory pids" --quiet -- "$OCIRT" --root "$ROOT" --cgroup-manager cgroupfs \
		run --bundle "$BUNDLE" c2 </dev/null
	assert_failure
	grep -q 'strict mode' <<<"$stderr" || fail "strict mode did not fail: $stderr"
}

# Podman with our runtime and a private store (vfs), systemd cgroup manager:
# conmon runs `--systemd-cgroup create`, then pause, resume, update
# --resources FILE, delete, from inside Podman's user namespace.
_podman() {
	TMPDIR=$PSTORE/tmp timeout --kill-after=5 120 podman --root "$PSTORE/root" --runroot "$PSTORE/run" \
		--storage-driver vfs --cgroup-manager systemd --events-backend file --runtime "$OCIRT" "$@"
}

@test "vm: podman --cgroup-manager systemd: limits, pause/unpause and update go through the runtime" {
	command -v podman >/dev/null || skip "podman is not installed in the image"
	PSTORE=$(mktemp -d /tmp/ocpod.XXXXXX)
	mkdir -p "$PSTORE/root" "$PSTORE/run" "$PSTORE/tmp"
	tar -C "$(fixture_dir)/rootfs" -cf "$PSTORE/bb.tar" .
	_podman import "$PSTORE/bb.tar" localhost/bb:latest >/dev/null
	run _podman run -d --name pc --memory 64m --pids-limit 50 localhost/bb sleep 1000
	assert_success
	run _podman exec pc cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max
	assert_success
	assert_line 67108864
	assert_line 50
	_podman pause pc
	[ "$(_podman inspect -f '{{.State.Status}}' pc)" = paused ] || fail "podman does not see it paused"
	_podman unpause pc
	[ "$(_podman inspect -f '{{.State.Status}}' pc)" = running ] || fail "not running after unpause"
	_podman update --memory 128m pc
	run _podman exec pc cat /sys/fs/cgroup/memory.max
	assert_success
	assert_output 134217728
	_podman rm -f pc >/dev/null
	_podman system reset --force >/dev/null 2>&1 || true
	rm -rf "$PSTORE" 2>/dev/null || podman unshare rm -rf "$PSTORE" 2>/dev/null || true
}
