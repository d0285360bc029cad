#!/usr/bin/env bats
# Security of the container process: the five capability sets,
# no_new_privs, seccomp (actions, errno, argument conditions, the
# SCMP_ACT_NOTIFY listener), rlimits, oomScoreAdj, LSM fields, and the
# runtime protecting itself and the host (its binary, its fds, its cwd).

load helpers

# Every capability of Linux 6.x, in number order (CAP_CHOWN = 0 ...).
ALL_CAPS=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID
	CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN
	CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE
	CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME
	CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP
	CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ
	CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE)

# mask NAME...: the /proc/PID/status hex mask (16 digits) of capabilities.
mask() {
	local m=0 n i
	for n in "$@"; do
		for i in "${!ALL_CAPS[@]}"; do
			[ "${ALL_CAPS[$i]}" = "$n" ] && m=$((m | (1 << i)))
		done
	done
	printf '%016x\n' "$m"
}

# set_caps BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT: each a
# space-separated list of names.
set_caps() {
	local b e p i a
	# shellcheck disable=SC2086
	b=$(json_array $1) e=$(json_array $2) p=$(json_array $3) i=$(json_array $4) a=$(json_array $5)
	update_config '.process.capabilities = {bounding: $b, effective: $e, permitted: $p,
		inheritable: $i, ambient: $a}' --argjson b "$b" --argjson e "$e" --argjson p "$p" \
		--argjson i "$i" --argjson a "$a"
}

# cap_line SET: the CapSET line of the last run_ctr output, as a hex mask.
cap_line() {
	sed -n "s/^Cap$1:[[:space:]]*//p" <<<"$output"
}

assert_caps() {
	local set=$1 want=$2 got
	got=$(cap_line "$set")
	[ "$got" = "$want" ] || fail "Cap$set: $got, wanted $want (output: $output)"
}

# seccomp JSON: set linux.seccomp.
set_seccomp() {
	update_config '.linux.seccomp = $s' --argjson s "$1"
}

# deny_mkdir ACTION [EXTRA-JSON]: default allow, ACTION for mkdir(at).
deny_mkdir() {
	local extra=${2:-}
	[ -n "$extra" ] || extra='{}'
	set_seccomp "$(jq -nc --arg a "$1" --argjson x "$extra" \
		'{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir", "mkdirat"], action: $a} + $x]}')"
}

# ---- capabilities ---------------------------------------------------------------------------

@test "security: the five capability sets of a root process" {
	local bnd=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL CAP_NET_BIND_SERVICE CAP_SYS_CHROOT)
	set_caps "${bnd[*]}" "CAP_CHOWN CAP_KILL" "CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE" \
		"CAP_KILL CAP_SYS_CHROOT" "CAP_KILL"
	# With no_new_privs, exec gains nothing: permitted stays the configured
	# set, and a uid 0 process gets effective = permitted (capabilities(7)).
	update_config '.process.noNewPrivileges = true'
	run_ctr grep ^Cap /proc/self/status
	assert_success
	assert_caps Bnd "$(mask "${bnd[@]}")"
	assert_caps Inh "$(mask CAP_KILL CAP_SYS_CHROOT)"
	assert_caps Prm "$(mask CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE)"
	assert_caps Eff "$(mask CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE)"
	assert_caps Amb "$(mask CAP_KILL)"
	# Without it, exec as uid 0 makes permitted = bounding | inheritable.
	update_config '.process.noNewPrivileges = false'
	run_ctr grep ^Cap /proc/self/status
	assert_success
	assert_caps Bnd "$(mask "${bnd[@]}")"
	assert_caps Inh "$(mask CAP_KILL CAP_SYS_CHROOT)"
	assert_caps Prm "$(mask "${bnd[@]}")"
	assert_caps Eff "$(mask "${bnd[@]}")"
	assert_caps Amb "$(mask CAP_KILL)"
}

@test "security: capabilities survive the switch to uid 1000 through the ambient set" {
	use_subid_mappings
	[ "$SUBUID_COUNT" -ge 1000 ] && [ "$SUBGID_COUNT" -ge 1000 ] || skip "subordinate ranges too small for uid 1000"
	update_config '.process.user = {uid: 1000, gid: 1000}'
	# Ambient: KILL is permitted and inheritable, so it is raised; CHOWN is
	# not inheritable and SYS_CHROOT not permitted, so they cannot be.
	set_caps "CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_SYS_CHROOT" \
		"CAP_CHOWN CAP_KILL" "CAP_CHOWN CAP_KILL CAP_NET_BIND_SERVICE" \
		"CAP_KILL CAP_SYS_CHROOT" "CAP_KILL CAP_CHOWN CAP_SYS_CHROOT"
	run_ctr sh -c 'id -u; grep ^Cap /proc/self/status'
	assert_success
	assert_line --index 0 1000
	assert_caps Bnd "$(mask CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_NET_BIND_SERVICE CAP_SYS_CHROOT)"
	assert_caps Inh "$(mask CAP_KILL CAP_SYS_CHROOT)"
	# exec as a non-root user: permitted = effective = ambient
	assert_caps Amb "$(mask CAP_KILL)"
	assert_caps Prm "$(mask CAP_KILL)"
	assert_caps Eff "$(mask CAP_KILL)"
}

@test "security: uid 1000 without ambient capabilities has none after exec" {
	use_subid_mappings
	[ "$SUBUID_COUNT" -ge 1000 ] && [ "$SUBGID_COUNT" -ge 1000 ] || skip "subordinate ranges too small for uid 1000"
	update_config '.process.user = {uid: 1000, gid: 1000}'
	set_caps "CAP_CHOWN CAP_KILL" "CAP_CHOWN CAP_KILL" "CAP_CHOWN CAP_KILL" "" ""
	run_ctr grep ^Cap /proc/self/status
	assert_success
	assert_caps Bnd "$(mask CAP_CHOWN CAP_KILL)"
	assert_caps Prm 0000000000000000
	assert_caps Eff 0000000000000000
	assert_caps Amb 0000000000000000
}

@test "security: a capability name the kernel does not know is skipped" {
	set_caps "CAP_KILL CAP_FUTURE_ONE" "CAP_KILL CAP_FUTURE_ONE" "CAP_KILL CAP_FUTURE_ONE" \
		"CAP_FUTURE_ONE" "CAP_FUTURE_ONE"
	run_ctr grep ^Cap /proc/self/status
	assert_success
	assert_caps Bnd "$(mask CAP_KILL)"
	assert_caps Eff "$(mask CAP_KILL)"
	assert_caps Inh 0000000000000000
	assert_caps Amb 0000000000000000
}

@test "security: every capability the kernel has can be granted" {
	set_caps "${ALL_CAPS[*]}" "${ALL_CAPS[*]}" "${ALL_CAPS[*]}" "" ""
	run_ctr grep ^CapBnd /proc/self/status
	assert_success
	local last want
	last=$(cat /proc/sys/kernel/cap_last_cap)
	[ "$last" -lt "${#ALL_CAPS[@]}" ] || skip "kernel has capabilities beyond CAP_CHECKPOINT_RESTORE"
	want=$(printf '%016x' $(((1 << (last + 1)) - 1)))
	assert_caps Bnd "$want"
}

@test "security: a malformed capability name is an error naming it" {
	local name set
	for name in sys_admin CAP_ CAP_sys_admin 'CAP_SYS ADMIN'; do
		for set in bounding ambient; do
			cp "$(fixture_dir)/config.json" "$BUNDLE/config.json"
			update_config '.process.capabilities[$s] += [$n]' --arg s "$set" --arg n "$name"
			run_detached create --bundle "$BUNDLE" "$CID"
			assert_runtime_error "$set" "\`$name\`|'$name'|\"$name\""
			assert_no_containers
		done
	done
}

# ---- no_new_privs ---------------------------------------------------------------------------

@test "security: noNewPrivileges true gives NoNewPrivs 1, false gives 0" {
	update_config '.process.noNewPrivileges = true'
	run_ctr grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+1$'
	update_config '.process.noNewPrivileges = false'
	run_ctr grep ^NoNewPrivs: /proc/self/status
	assert_success
	assert_output --regexp '^NoNewPrivs:[[:space:]]+0$'
}

# ---- seccomp --------------------------------------------------------------------------------

@test "security: seccomp: the filter is installed (Seccomp: 2), none without linux.seccomp" {
	run_ctr grep ^Seccomp: /proc/self/status
	assert_success
	assert_output --regexp '^Seccomp:[[:space:]]+0$'
	deny_mkdir SCMP_ACT_ERRNO
	run_ctr grep -E '^Seccomp(_filters)?:' /proc/self/status
	assert_success
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_line --regexp '^Seccomp_filters:[[:space:]]+1$'
}

@test "security: seccomp: a denied syscall fails with errnoRet" {
	deny_mkdir SCMP_ACT_ERRNO '{"errnoRet": 38}'
	run_ctr sh -c 'mkdir /tmp/x; echo rc=$?; test -d /tmp/x && echo made; touch /tmp/f && echo touched'
	assert_success
	assert_line rc=1
	refute_line made
	assert_line touched
	assert_stderr_contains 'Function not implemented'
}

@test "security: seccomp: SCMP_ACT_ERRNO without errnoRet is EPERM" {
	deny_mkdir SCMP_ACT_ERRNO
	run_ctr sh -c 'mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_line rc=1
	assert_stderr_contains 'Operation not permitted'
}

@test "security: seccomp: defaultAction SCMP_ACT_ERRNO with defaultErrnoRet and an allow-list" {
	local allow
	allow=$(json_array read write readv writev pread64 pwrite64 open openat close stat fstat lstat \
		newfstatat statx lseek mmap mprotect munmap brk mremap madvise rt_sigaction \
		rt_sigprocmask rt_sigreturn sigaltstack ioctl access faccessat faccessat2 pipe pipe2 dup \
		dup2 dup3 fcntl getdents64 getcwd chdir fchdir execve execveat exit exit_group wait4 \
		waitid kill tgkill getpid getppid gettid getuid geteuid getgid getegid getresuid \
		getresgid getgroups getpgrp getpgid setpgid getsid uname arch_prctl set_tid_address \
		set_robust_list rseq prlimit64 getrlimit getrandom clone clone3 fork vfork futex \
		nanosleep clock_nanosleep clock_gettime gettimeofday time sysinfo times umask prctl \
		readlink readlinkat sched_getaffinity sched_yield close_range poll ppoll select pselect6 \
		capget fstatfs statfs getdents)
	set_seccomp "$(jq -nc --argjson a "$allow" '{defaultAction: "SCMP_ACT_ERRNO",
		defaultErrnoRet: 95, syscalls: [{names: $a, action: "SCMP_ACT_ALLOW"}]}')"
	run_ctr sh -c 'echo allowed; mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_line allowed
	assert_line rc=1
	assert_stderr_contains 'Operation not supported'
}

@test "security: seccomp: argument conditions with every operator" {
	# kill(2) with signal 0, 1, 10 or 12 to itself; which are denied
	# depends on the condition on its second argument (index 1).
	set_args sh -c 'trap : 1 10 12; for s in 0 1 10 12; do
		if kill -$s $$ 2>/dev/null; then echo "$s ok"; else echo "$s denied"; fi; done'
	local op value value2 denied s want
	while read -r op value value2 denied; do
		set_seccomp "$(jq -nc --arg op "$op" --argjson v "$value" --argjson v2 "$value2" \
			'{defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["kill"], action: "SCMP_ACT_ERRNO",
			  args: [{index: 1, op: $op, value: $v} + (if $v2 == 0 then {} else {valueTwo: $v2} end)]}]}')"
		run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
		[ "$status" -eq 0 ] || fail "$op: run failed ($status): $stderr"
		want=""
		for s in 0 1 10 12; do
			if [[ ",$denied," == *",$s,"* ]]; then want+="$s denied"$'\n'; else want+="$s ok"$'\n'; fi
		done
		[ "$output" = "${want%$'\n'}" ] || fail "$op $value $value2: got
$output
wanted
${want%$'\n'}"
	done <<-'EOF'
		SCMP_CMP_EQ 10 0 10
		SCMP_CMP_NE 0 0 1,10,12
		SCMP_CMP_GT 10 0 12
		SCMP_CMP_GE 10 0 10,12
		SCMP_CMP_LT 10 0 0,1
		SCMP_CMP_LE 10 0 0,1,10
		SCMP_CMP_MASKED_EQ 8 8 10,12
	EOF
}

@test "security: seccomp: SCMP_ACT_KILL_PROCESS kills the process with SIGSYS (exit 159)" {
	deny_mkdir SCMP_ACT_KILL_PROCESS
	run_ctr mkdir /tmp/x
	assert_failure 159
	[ ! -d "$BUNDLE/rootfs/tmp/x" ] || fail "mkdir ran"
	assert_no_containers
}

@test "security: seccomp: SCMP_ACT_KILL and SCMP_ACT_TRAP end the process with SIGSYS" {
	local a
	for a in SCMP_ACT_KILL SCMP_ACT_KILL_THREAD SCMP_ACT_TRAP; do
		deny_mkdir "$a"
		run_ctr sh -c 'mkdir /tmp/x; echo rc=$?'
		assert_success
		assert_output rc=159
	done
}

@test "security: seccomp: SCMP_ACT_LOG allows the call, SCMP_ACT_TRACE without a tracer is ENOSYS" {
	deny_mkdir SCMP_ACT_LOG
	run_ctr sh -c 'mkdir /tmp/x && echo made'
	assert_success
	assert_output made
	deny_mkdir SCMP_ACT_TRACE
	run_ctr sh -c 'mkdir /tmp/y; echo rc=$?'
	assert_success
	assert_output rc=1
	assert_stderr_contains 'Function not implemented'
}

@test "security: seccomp: syscall names libseccomp does not know are skipped" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["no_such_syscall_ocirt", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		{"names": ["another_unknown_one"], "action": "SCMP_ACT_KILL"}]}'
	run_ctr sh -c 'mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_output rc=1
	assert_stderr_contains 'Function not implemented'
}

@test "security: seccomp: architectures and flags are accepted, unknown ones are errors naming them" {
	local arch
	case $(uname -m) in
	x86_64) arch='["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]' ;;
	aarch64) arch='["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]' ;;
	*) skip "no architecture list for $(uname -m)" ;;
	esac
	deny_mkdir SCMP_ACT_ERRNO
	update_config '.linux.seccomp.architectures = $a | .linux.seccomp.flags = ["SECCOMP_FILTER_FLAG_LOG"]' \
		--argjson a "$arch"
	run_ctr sh -c 'mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_output rc=1
	update_config '.linux.seccomp.architectures += ["SCMP_ARCH_NOPE"]'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error SCMP_ARCH_NOPE
	assert_no_containers
	update_config '.linux.seccomp.architectures = $a | .linux.seccomp.flags = ["SECCOMP_FILTER_FLAG_NOPE"]' \
		--argjson a "$arch"
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error SECCOMP_FILTER_FLAG_NOPE
	assert_no_containers
}

@test "security: seccomp: errnoRet with an action that has no errno is an error" {
	# runtime-spec config-linux.md: "When the action doesn't support an
	# errno, the runtime MUST print and error and fail."
	deny_mkdir SCMP_ACT_KILL_PROCESS '{"errnoRet": 5}'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'seccomp' 'errno'
	assert_no_containers
}

@test "security: seccomp: SCMP_ACT_NOTIFY sends the listener fd and the state to listenerPath" {
	local sock=$BATS_TEST_TMPDIR/seccomp.sock
	start_recvtty "$sock" -m seccomp -o "$BATS_TEST_TMPDIR/msg.json" -e 95 -l "$BATS_TEST_TMPDIR/notify.log"
	deny_mkdir SCMP_ACT_NOTIFY
	update_config '.linux.seccomp.listenerPath = $p | .linux.seccomp.listenerMetadata = "meta data"' \
		--arg p "$sock"
	set_args sh -c 'mkdir /tmp/x; echo rc=$? >/result; sleep 1000'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_success
	local pid
	pid=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$pid")
	run runtime start "$CID"
	assert_success
	wait_for_file "$BUNDLE/rootfs/result"
	# the agent's answer (ENOTSUP) is what the container's mkdir got
	run cat "$BUNDLE/rootfs/result"
	assert_output rc=1
	run cat "$BATS_TEST_TMPDIR/notify.log"
	assert_output --regexp '^notify [0-9]+'
	run jq -c '[.fds, .metadata, (.ociVersion | type), .pid, .state.id, .state.pid, .state.bundle]' \
		"$BATS_TEST_TMPDIR/msg.json"
	assert_output "[[\"seccompFd\"],\"meta data\",\"string\",$pid,\"$CID\",$pid,\"$(realpath "$BUNDLE")\"]"
	runtime kill "$CID" KILL
	wait_recvtty
}

@test "security: seccomp: an exec'd process sends the container's state to the listener" {
	# The socket's directory is bind-mounted at the same path in the
	# container, so this holds wherever the runtime connects from.
	local dir=$BATS_TEST_TMPDIR/listener
	local sock=$dir/seccomp.sock
	mkdir -p "$dir"
	add_mount "$dir" none "$dir" rbind
	start_recvtty "$sock" -m seccomp -o "$BATS_TEST_TMPDIR/init.json"
	deny_mkdir SCMP_ACT_NOTIFY
	update_config '.linux.seccomp.listenerPath = $p' --arg p "$sock"
	start_detached sleep 1000
	wait_for_file "$BATS_TEST_TMPDIR/init.json"
	# a second agent on the same path for the exec'd process
	start_recvtty "$sock" -m seccomp -o "$BATS_TEST_TMPDIR/exec.json" -e 95
	run --separate-stderr runtime exec "$CID" sh -c 'mkdir /tmp/x; echo rc=$?'
	assert_success
	assert_output rc=1
	wait_recvtty
	run jq -c '[.fds, .state.id, .state.status, .state.pid, (.pid > 0)]' "$BATS_TEST_TMPDIR/exec.json"
	assert_output "[[\"seccompFd\"],\"$CID\",\"running\",$CPID,true]"
}

@test "security: seccomp: SCMP_ACT_NOTIFY without listenerPath is an error" {
	deny_mkdir SCMP_ACT_NOTIFY
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error listenerPath
	assert_no_containers
}

# ---- rlimits, oomScoreAdj -------------------------------------------------------------------

@test "security: rlimits of several types are all applied" {
	update_config '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 100, hard: 200},
		{type: "RLIMIT_CORE", soft: 0, hard: 0}, {type: "RLIMIT_NPROC", soft: 300, hard: 400},
		{type: "RLIMIT_STACK", soft: 2097152, hard: 4194304}]'
	run_ctr cat /proc/self/limits
	assert_success
	assert_line --regexp '^Max open files +100 +200 +files'
	assert_line --regexp '^Max core file size +0 +0 +bytes'
	assert_line --regexp '^Max processes +300 +400 +processes'
	assert_line --regexp '^Max stack size +2097152 +4194304 +bytes'
}

@test "security: an unknown rlimit type and soft above hard are errors naming them" {
	update_config '.process.rlimits = [{type: "RLIMIT_BOGUS", soft: 1, hard: 1}]'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error RLIMIT_BOGUS
	assert_no_containers
	update_config '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 20, hard: 10}]'
	run_detached create --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'rlimits' 'soft'
	assert_no_containers
}

@test "security: oomScoreAdj below the caller's is an error naming it" {
	local cur
	cur=$(cat /proc/self/oom_score_adj)
	[ "$cur" -gt -1000 ] || skip "oom_score_adj is already -1000"
	update_config '.process.oomScoreAdj = $v' --argjson v "$((cur - 1))"
	set_args true
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error oomScoreAdj
	assert_no_containers
}

# ---- LSM ------------------------------------------------------------------------------------

@test "security: apparmorProfile on a host without AppArmor is an error naming it" {
	if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
		skip "AppArmor is enabled on this host"
	fi
	update_config '.process.apparmorProfile = "ocirt-test-profile"'
	set_args true
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error apparmorProfile 'AppArmor'
	assert_no_containers
}

@test "security: selinuxLabel on a host without SELinux is an error naming it" {
	[ ! -e /sys/fs/selinux/enforce ] || skip "SELinux is enabled on this host"
	update_config '.process.selinuxLabel = "system_u:system_r:container_t:s0"'
	set_args true
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error selinuxLabel 'SELinux'
	assert_no_containers
}

# ---- the runtime's own binary (CVE-2019-5736 class) ------------------------------------------

@test "security: the runtime refuses to execute its own binary in the container" {
	requires_ours "refuse to run its own binary"
	run_ctr /proc/self/exe --version
	assert_runtime_error 'own binary'
	assert_no_containers
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" /proc/self/exe --version
	assert_runtime_error '/proc/self/exe' 'own binary'
}

@test "security: the runtime's binary bind-mounted into the container is refused too" {
	requires_ours "refuse to run its own binary"
	add_mount /ocirt-bin none "$(realpath "$OCIRT")" bind ro
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" /ocirt-bin --version
	assert_runtime_error '/ocirt-bin' 'own binary'
}

@test "security: a container cannot overwrite the runtime binary through /proc/PID/exe" {
	# A private copy of the runtime that the caller (= container root) may
	# write, as a user's own ~/bin/ocirt-rootless is. While a created
	# container's init is still the runtime, a process exec'd into the
	# container (with every capability) tries to keep the binary open and
	# write it once the runtime has exited.
	local rt=$BATS_TEST_TMPDIR/ocirt-copy sum
	cp "$OCIRT" "$rt"
	chmod 0755 "$rt"
	sum=$(sha256sum <"$rt")
	update_config '.process.capabilities = {bounding: $c, effective: $c, permitted: $c}' \
		--argjson c "$(json_array "${ALL_CAPS[@]}")"
	set_args sleep 1000
	timeout 20 "$rt" --root "$ROOT" create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 ||
		fail "create failed"
	TRACKED_PIDS+=("$(state_field "$CID" .pid)")
	# The inner shell dies if the open fails; the outer one then reports.
	cat >"$BUNDLE/rootfs/attack.sh" <<-'EOF'
		exec 3</proc/1/exe
		echo >/tmp/ready
		i=0
		while [ $i -lt 30 ]; do
			{ echo PWNED >/proc/self/fd/3; } 2>/dev/null && { echo wrote >/tmp/wrote; break; }
			sleep 0.1
			i=$((i + 1))
		done
	EOF
	# The runtime may refuse to let anything into a container whose init is
	# still its own binary (ours does); if it lets the attack in, the
	# attack must fail.
	local ex=0
	timeout 20 "$rt" --root "$ROOT" exec -d "$CID" sh -c 'sh /attack.sh 2>/dev/null; echo >/tmp/ready; echo >/tmp/done' \
		</dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/exec.err" || ex=$?
	if [ "$ex" -ne 0 ]; then
		grep -q "not started" "$BATS_TEST_TMPDIR/exec.err" || fail "exec -d failed: $(cat "$BATS_TEST_TMPDIR/exec.err")"
		timeout 20 "$rt" --root "$ROOT" start "$CID" </dev/null >/dev/null 2>&1 || fail "start failed"
		[ "$(sha256sum <"$rt")" = "$sum" ] || fail "the runtime binary changed"
		return 0
	fi
	wait_for_file "$BUNDLE/rootfs/tmp/ready"
	timeout 20 "$rt" --root "$ROOT" start "$CID" </dev/null >/dev/null 2>&1 || fail "start failed"
	wait_for_file "$BUNDLE/rootfs/tmp/done" 10
	[ "$(sha256sum <"$rt")" = "$sum" ] || fail "the container overwrote the runtime binary"
	[ ! -e "$BUNDLE/rootfs/tmp/wrote" ] || fail "the container wrote to the runtime binary"
}

# ---- file descriptors and cwd (CVE-2024-21626 class) ----------------------------------------

@test "security: no fd of the caller reaches the container process (run)" {
	# the shell's own fds, not those of an ls it runs
	run_ctr sh -c 'ls /proc/$$/fd; true' 3</etc/hostname 5</etc/hostname 7<"$BATS_TEST_TMPDIR"
	assert_success
	assert_output '0
1
2'
}

@test "security: no fd of the caller reaches an exec'd process" {
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" sh -c 'ls /proc/$$/fd; true' \
		3</etc/hostname 5</etc/hostname 7<"$BATS_TEST_TMPDIR"
	assert_success
	assert_output '0
1
2'
}

@test "security: --preserve-fds passes exactly fds 3 to 3+N-1" {
	echo three >"$BATS_TEST_TMPDIR/f3"
	echo four >"$BATS_TEST_TMPDIR/f4"
	set_args sh -c 'cat <&3; cat <&4; ls /proc/$$/fd; true'
	run --separate-stderr runtime run --preserve-fds 2 --bundle "$BUNDLE" "$CID" \
		</dev/null 3<"$BATS_TEST_TMPDIR/f3" 4<"$BATS_TEST_TMPDIR/f4" 5</etc/hostname
	assert_success
	assert_output 'three
four
0
1
2
3
4'
}

@test "security: LISTEN_FDS with our LISTEN_PID passes the fds on, as runc does" {
	echo sock >"$BATS_TEST_TMPDIR/f3"
	set_args sh -c 'echo "$LISTEN_FDS $LISTEN_PID"; cat <&3; ls /proc/$$/fd; true'
	run --separate-stderr timeout 20 sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" --root "$1" run --bundle "$2" "$3"' \
		"$OCIRT" "$ROOT" "$BUNDLE" "$CID" </dev/null 3<"$BATS_TEST_TMPDIR/f3" 4</etc/hostname
	assert_success
	assert_output '1 1
sock
0
1
2
3'
}

@test "security: LISTEN_FDS meant for another process passes nothing on" {
	# runc (go-systemd activation.Files) ignores LISTEN_FDS unless
	# LISTEN_PID is its own pid.
	set_args sh -c 'echo "[$LISTEN_FDS]"; ls /proc/$$/fd; true'
	run --separate-stderr env LISTEN_PID=1 LISTEN_FDS=1 "$OCIRT" --root "$ROOT" run --bundle "$BUNDLE" "$CID" \
		</dev/null 3</etc/hostname
	assert_success
	assert_output '[]
0
1
2'
}

@test "security: the container's cwd is process.cwd, not the caller's" {
	mkdir -p "$BATS_TEST_TMPDIR/hostdir" "$BUNDLE/rootfs/srv"
	update_config '.process.cwd = "/srv"'
	set_args sh -c 'readlink /proc/self/cwd; pwd'
	cd "$BATS_TEST_TMPDIR/hostdir"
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_output '/srv
/srv'
	start_detached sleep 1000
	run --separate-stderr runtime exec "$CID" readlink /proc/self/cwd
	assert_success
	assert_output /srv
}

@test "security: process.cwd through /proc/self/fd cannot reach a host directory" {
	# CVE-2024-21626: a cwd of /proc/self/fd/N resolved while the runtime
	# still holds host fds puts the process outside its root.
	local host=$BATS_TEST_TMPDIR/hostdir n
	mkdir -p "$host"
	echo secret >"$host/host-secret"
	for n in 3 4 5 6 7 8 9 10 11 12; do
		update_config '.process.cwd = $c' --arg c "/proc/self/fd/$n"
		set_args sh -c 'ls; readlink /proc/self/cwd'
		run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null 3<"$host"
		[[ "$output" != *host-secret* ]] || fail "cwd /proc/self/fd/$n: the container sees the host directory: $output"
		[[ "$output" != *"$host"* ]] || fail "cwd /proc/self/fd/$n: the container's cwd is $output"
		runtime delete --force "$CID" >/dev/null 2>&1 || true
	done
}

@test "security: exec --cwd through /proc/self/fd cannot reach a host directory" {
	local host=$BATS_TEST_TMPDIR/hostdir n
	mkdir -p "$host"
	echo secret >"$host/host-secret"
	start_detached sleep 1000
	for n in 3 4 5 6 7 8 9 10 11 12; do
		run --separate-stderr runtime exec --cwd "/proc/self/fd/$n" "$CID" sh -c 'ls; readlink /proc/self/cwd' 3<"$host"
		[[ "$output" != *host-secret* ]] || fail "--cwd /proc/self/fd/$n: the process sees the host directory: $output"
		[[ "$output" != *"$host"* ]] || fail "--cwd /proc/self/fd/$n: the process's cwd is $output"
	done
}
