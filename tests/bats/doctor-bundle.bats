#!/usr/bin/env bats
# doctor --bundle DIR (and its alias `check`): findings about config.json,
# each naming the JSON pointer of the field, in the same text/JSON report as
# the host checks; exit status 1 when any finding is `fail`. Each finding is
# made to happen with a hostile config.

load helpers

# check ARGS...: `check` with this test's state root (mode 0700).
check() {
	chmod 0700 "$ROOT"
	runtime check "$@"
}

# bfinding CHECK: the text findings of bundle check CHECK in $output.
bfinding() {
	grep -E "^(ok|warn|fail) +bundle\.$1 " <<<"$output"
}

# assert_exit_matches_fails: exit status 1 when a line is `fail`, else 0.
assert_exit_matches_fails() {
	if grep -q '^fail ' <<<"$output"; then
		[ "$status" -eq 1 ] || fail "exit status $status with a failure: $output"
	else
		[ "$status" -eq 0 ] || fail "exit status $status without failures: $output"
	fi
}

@test "doctor-bundle: the default spec --rootless bundle has no failing finding" {
	requires_ours "have a check verb"
	local b=$BATS_TEST_TMPDIR/default
	mkdir -p "$b"
	runtime spec --rootless -b "$b"
	run check --bundle "$b"
	bfinding config | grep -q '^ok ' || fail "config did not load: $output"
	for c in caps nonewprivs sys proc-sys masked mounts idmap; do
		bfinding "$c" | grep -q '^ok ' || fail "bundle.$c is not ok: $output"
	done
	if grep -qE '^fail +bundle\.' <<<"$output"; then
		fail "a bundle finding fails: $output"
	fi
	assert_exit_matches_fails
	# doctor takes --bundle too and prints the same findings
	local out_check=$output
	chmod 0700 "$ROOT"
	run runtime doctor --bundle "$b"
	[ "$(grep -E ' bundle\.' <<<"$output")" = "$(grep -E ' bundle\.' <<<"$out_check")" ] ||
		fail "doctor and check differ: $output"
}

@test "doctor-bundle: CAP_SYS_ADMIN is a warning naming its pointer" {
	requires_ours "have a check verb"
	local n
	n=$(jq '.process.capabilities.bounding | length' "$BUNDLE/config.json")
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN"]
		| .process.capabilities.effective = ["CAP_KILL", "CAP_SYS_PTRACE"]'
	run check --bundle "$BUNDLE"
	bfinding caps | grep -q "^warn .*/process/capabilities/bounding/$n: CAP_SYS_ADMIN is beyond" ||
		fail "no CAP_SYS_ADMIN warning at bounding/$n: $output"
	bfinding caps | grep -q "^warn .*/process/capabilities/effective/1: CAP_SYS_PTRACE" ||
		fail "no CAP_SYS_PTRACE warning: $output"
	bfinding caps | grep -q "CAP_KILL is beyond" && fail "CAP_KILL (a default) flagged: $output"
	bfinding caps | grep -q '; fix: ' || fail "warning without a fix: $output"
	assert_exit_matches_fails
}

@test "doctor-bundle: no seccomp is a warning" {
	requires_ours "have a check verb"
	update_config 'del(.linux.seccomp)'
	run check --bundle "$BUNDLE"
	bfinding seccomp | grep -q '^warn .*/linux/seccomp: absent' || fail "no seccomp warning: $output"
	update_config '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["kexec_load"],
		action: "SCMP_ACT_ERRNO"}]}'
	run check --bundle "$BUNDLE"
	bfinding seccomp | grep -q '^ok ' || fail "seccomp set but not ok: $output"
}

@test "doctor-bundle: noNewPrivileges false is a warning" {
	requires_ours "have a check verb"
	update_config '.process.noNewPrivileges = false'
	run check --bundle "$BUNDLE"
	bfinding nonewprivs | grep -q '^warn .*/process/noNewPrivileges: false' ||
		fail "no noNewPrivileges warning: $output"
	update_config 'del(.process.noNewPrivileges)'
	run check --bundle "$BUNDLE"
	bfinding nonewprivs | grep -q '^warn ' || fail "absent noNewPrivileges (false) not flagged: $output"
}

@test "doctor-bundle: malformed JSON fails with line and column, exit 1" {
	requires_ours "have a check verb"
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n' >"$BUNDLE/config.json"
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding config | grep -qE '^fail .*line 3 column [0-9]+' || fail "no line/column failure: $output"
	# a type error names the field
	printf '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"cwd": "/", "args": [1]}}' \
		>"$BUNDLE/config.json"
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding config | grep -q '^fail .*process\.args\[0\]' || fail "type error without its field: $output"
	# no config.json at all
	rm "$BUNDLE/config.json"
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding config | grep -q '^fail .*config.json' || fail "missing config.json not a failure: $output"
}

@test "doctor-bundle: a bind mount of / fails naming /mounts/N, exit 1" {
	requires_ours "have a check verb"
	local n
	n=$(jq '.mounts | length' "$BUNDLE/config.json")
	add_mount /host bind / rbind ro
	add_mount /etc-host bind /etc// rbind
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding mounts | grep -q "^fail .*/mounts/$n: bind mount of the host's \`/\` at \`/host\`" ||
		fail "no failure for the bind of /: $output"
	bfinding mounts | grep -q "^warn .*/mounts/$((n + 1)): bind mount of the host's \`/etc//\`" ||
		fail "no warning for the bind of /etc: $output"
}

@test "doctor-bundle: the docker socket fails, a harmless bind is fine" {
	requires_ours "have a check verb"
	local n
	n=$(jq '.mounts | length' "$BUNDLE/config.json")
	add_mount /data bind "$BATS_TEST_TMPDIR" rbind
	run check --bundle "$BUNDLE"
	bfinding mounts | grep -q '^ok ' || fail "a bind of a test dir flagged: $output"
	add_mount /var/run/docker.sock bind /var/run/docker.sock bind
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding mounts | grep -q "^fail .*/mounts/$((n + 1)): .*docker.sock" || fail "docker.sock not a failure: $output"
}

@test "doctor-bundle: a missing pid namespace or a host namespace path is a warning" {
	requires_ours "have a check verb"
	update_config '.linux.namespaces |= map(select(.type != "pid"))'
	run check --bundle "$BUNDLE"
	bfinding namespaces | grep -q '^warn .*/linux/namespaces: no pid namespace' || fail "no pid warning: $output"
	bfinding namespaces | grep -q 'fix: add {"type": "pid"}' || fail "no fix naming pid: $output"
	local i
	i=$(jq '.linux.namespaces | map(.type) | index("ipc")' "$BUNDLE/config.json")
	update_config '.linux.namespaces[$i].path = "/proc/1/ns/ipc"' --argjson i "$i"
	run check --bundle "$BUNDLE"
	bfinding namespaces | grep -q "^warn .*/linux/namespaces/$i/path: joins \`/proc/1/ns/ipc\`" ||
		fail "no warning for joining the host ipc namespace: $output"
}

@test "doctor-bundle: writable /sys and /proc/sys, missing masked paths are warnings" {
	requires_ours "have a check verb"
	local i
	i=$(jq '.mounts | map(.destination) | index("/sys")' "$BUNDLE/config.json")
	[ "$i" != null ] || skip "the fixture has no /sys mount"
	update_config '.mounts[$i].options |= map(select(. != "ro"))
		| .linux.readonlyPaths |= map(select(. != "/proc/sys"))
		| .linux.maskedPaths |= map(select(. != "/proc/kcore" and . != "/sys/firmware"))' --argjson i "$i"
	run check --bundle "$BUNDLE"
	bfinding sys | grep -q "^warn .*/mounts/$i: /sys is mounted writable" || fail "no /sys warning: $output"
	bfinding proc-sys | grep -q '^warn .*/proc/sys is writable' || fail "no /proc/sys warning: $output"
	bfinding masked | grep -q '^warn .*/linux/maskedPaths: .*/proc/kcore, /sys/firmware' ||
		fail "no masked paths warning: $output"
}

@test "doctor-bundle: --json parses with jq and has the pointer" {
	requires_ours "have a check verb"
	update_config '.process.capabilities.bounding = ["CAP_NET_ADMIN"] | .process.noNewPrivileges = false'
	run check --json --bundle "$BUNDLE"
	jq -e '.checks | length > 0' <<<"$output" >/dev/null || fail "not JSON: $output"
	jq -e 'any(.checks[]; .check == "bundle.caps" and .status == "warn"
		and (.message | startswith("/process/capabilities/bounding/0: CAP_NET_ADMIN")) and (.fix | length > 0))' \
		<<<"$output" >/dev/null || fail "no caps finding with its pointer: $output"
	jq -e 'any(.checks[]; .check == "bundle.nonewprivs" and (.message | contains("/process/noNewPrivileges")))' \
		<<<"$output" >/dev/null || fail "no noNewPrivileges finding: $output"
	local nfail
	nfail=$(jq '.fail' <<<"$output")
	if [ "$nfail" -gt 0 ]; then [ "$status" -eq 1 ]; else [ "$status" -eq 0 ]; fi
}

@test "doctor-bundle: process.user outside the id map fails, exit 1" {
	requires_ours "have a check verb"
	update_config '.process.user.uid = 424242'
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding idmap | grep -q '^fail .*/process/user/uid: .*424242 is not mapped' ||
		fail "no idmap failure for uid 424242: $output"
	update_config '.process.user.uid = 0 | .process.user.additionalGids = [0, 424243]'
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding idmap | grep -q '^fail .*/process/user/additionalGids/1: .*424243' ||
		fail "no idmap failure for additionalGids: $output"
}

@test "doctor-bundle: --help of check and doctor name --bundle" {
	requires_ours "have a check verb"
	run runtime check --help
	assert_success
	assert_output --partial "--bundle DIR"
	run runtime doctor --help
	assert_output --partial "--bundle DIR"
}

@test "doctor-bundle: unknown fields are warnings with their pointer and a did-you-mean, exit status unchanged" {
	requires_ours "have a check verb"
	run check --bundle "$BUNDLE"
	local clean_status=$status
	bfinding schema | grep -q '^ok ' || fail "the fixture has schema findings: $output"
	update_config '.hostnme = "x"
		| .process.capabilties = .process.capabilities
		| .linux.resources.memroy = {limit: 1}
		| .annotations["org.example/capabilties"] = "kept" | .annotations.hostnme = "kept"
		| .linux.sysctl = {"net.ipv4.ip_forwrd": "1"}'
	run check --bundle "$BUNDLE"
	[ "$status" -eq "$clean_status" ] || fail "warnings changed the exit status ($clean_status -> $status): $output"
	assert_exit_matches_fails
	bfinding schema | grep -qF 'warn  bundle.schema      /hostnme: unknown field (did you mean "hostname"?); fix: rename it to "hostname"' ||
		fail "no top-level warning: $output"
	bfinding schema | grep -qF '/process/capabilties: unknown field (did you mean "capabilities"?)' ||
		fail "no warning in process: $output"
	bfinding schema | grep -qF '/linux/resources/memroy: unknown field (did you mean "memory"?)' ||
		fail "no warning in linux.resources: $output"
	[ "$(bfinding schema | grep -c .)" -eq 3 ] || fail "annotation or sysctl keys warned: $(bfinding schema)"
}

@test "doctor-bundle: a wrong type the parser ignores is a warning; a misspelled required field is explained" {
	requires_ours "have a check verb"
	update_config '.linux.intelRdt = {closID: 5} | .linux.netDevices = {"eth/0": {nmae: "c0"}}'
	run check --bundle "$BUNDLE"
	bfinding schema | grep -qF '/linux/intelRdt/closID: expected a string, got an integer' ||
		fail "no type warning: $output"
	bfinding schema | grep -qF '/linux/netDevices/eth~10/nmae: unknown field (did you mean "name"?)' ||
		fail "no escaped pointer into the free-form netDevices key: $output"
	update_config 'del(.linux.intelRdt, .linux.netDevices) | .process.arg = .process.args | del(.process.args)'
	run check --bundle "$BUNDLE"
	assert_failure 1
	bfinding config | grep -q '^fail .*process\.args: required field is missing' || fail "no load failure: $output"
	bfinding schema | grep -qF '/process/arg: unknown field (did you mean "args"?)' ||
		fail "the failure is not explained: $output"
}

@test "doctor-bundle: --format json carries the schema pointer" {
	requires_ours "have a check verb"
	update_config '.process.capabilties = {} | .annotations["a/b"] = "x"'
	run check --format json --bundle "$BUNDLE"
	jq -e '.checks | length > 0' <<<"$output" >/dev/null || fail "not JSON: $output"
	jq -e '[.checks[] | select(.check == "bundle.schema")] == [{check: "bundle.schema", status: "warn",
		message: "/process/capabilties: unknown field (did you mean \"capabilities\"?)",
		fix: "rename it to \"capabilities\""}]' <<<"$output" >/dev/null ||
		fail "no single schema finding with its pointer: $output"
	local nfail
	nfail=$(jq '.fail' <<<"$output")
	if [ "$nfail" -gt 0 ]; then [ "$status" -eq 1 ]; else [ "$status" -eq 0 ]; fi
}
