#!/usr/bin/env bats
# Command line: --version, --help, unknown commands and flags, spec, list.

load helpers

@test "cli: --version prints a version number" {
	run runtime --version
	assert_success
	assert_output --regexp '[0-9]+\.[0-9]+\.[0-9]+'
	assert_output --partial 'version'
}

@test "cli: --version names ocirt-rootless and its version" {
	requires_ours "call itself ocirt-rootless"
	run runtime --version
	assert_success
	assert_line --index 0 --regexp '^ocirt-rootless( version)? [0-9]+\.[0-9]+\.[0-9]+'
}

@test "cli: --help lists the commands" {
	run runtime --help
	assert_success
	local c
	for c in create start run state list kill delete spec; do
		assert_output --regexp "(^|[[:space:]])$c([[:space:],]|$)"
	done
}

@test "cli: COMMAND --help describes each command and its flags" {
	local -A flags=(
		[spec]="--rootless --bundle"
		[create]="--bundle --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds"
		[start]=""
		[run]="--detach --bundle --pid-file --no-pivot"
		[state]=""
		[list]="--format --quiet"
		[kill]="--all"
		[delete]="--force"
	)
	local verb f
	for verb in "${!flags[@]}"; do
		run runtime "$verb" --help
		assert_success
		assert_output --partial "$verb"
		for f in ${flags[$verb]}; do
			assert_output --partial -- "$f"
		done
	done
}

@test "cli: an unknown command fails with a message naming it" {
	run --separate-stderr runtime frobnicate
	assert_runtime_error 'frobnicate'
	assert_no_containers
}

@test "cli: an unknown flag fails with a message naming it" {
	run --separate-stderr runtime list --bogus-flag
	assert_runtime_error 'bogus-flag'
	run --separate-stderr runtime create --bogus-flag --bundle "$BUNDLE" "$CID"
	assert_runtime_error 'bogus-flag'
	assert_no_containers
}

@test "cli: a command without its container id fails" {
	local verb
	for verb in state start delete kill; do
		run --separate-stderr runtime "$verb"
		[ "$status" -ne 0 ] || fail "$verb without id succeeded"
		[ -n "$stderr" ] || fail "$verb without id: no message"
	done
}

@test "cli: spec writes a valid config.json into --bundle" {
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	run runtime spec --bundle "$d"
	assert_success
	[ -f "$d/config.json" ]
	run jq -r '.ociVersion, (.process.args | length > 0), .root.path' "$d/config.json"
	assert_success
	assert_line --index 0 --regexp '^1\.[0-9]+\.[0-9]+'
	assert_line --index 1 true
	assert_line --index 2 rootfs
}

@test "cli: spec without --bundle writes into the current directory" {
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	cd "$d"
	run runtime spec
	assert_success
	jq -e .ociVersion "$d/config.json"
}

@test "cli: spec refuses to overwrite an existing config.json" {
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	echo '{"mine": true}' >"$d/config.json"
	run --separate-stderr runtime spec --bundle "$d"
	assert_runtime_error 'config.json'
	run cat "$d/config.json"
	assert_output '{"mine": true}'
}

@test "cli: spec --rootless maps the caller to root in a user namespace" {
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	run runtime spec --rootless --bundle "$d"
	assert_success
	run jq -r '[.linux.namespaces[].type] | index("user") != null' "$d/config.json"
	assert_output true
	run jq -r '.linux.uidMappings[] | select(.containerID == 0) | .hostID' "$d/config.json"
	assert_output "$HOST_UID"
	run jq -r '.linux.gidMappings[] | select(.containerID == 0) | .hostID' "$d/config.json"
	assert_output "$HOST_GID"
}

@test "cli: the config from spec --rootless runs a container" {
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	runtime spec --rootless --bundle "$d"
	mv "$BUNDLE/rootfs" "$d/rootfs"
	BUNDLE=$d
	update_config '.process.terminal = false'
	run_ctr sh -c 'echo hello from $(id -u)'
	assert_success
	assert_output 'hello from 0'
}

@test "cli: list with no containers" {
	run runtime list -q
	assert_success
	assert_output ''
	run runtime list --format json
	assert_success
	run jq -e 'length == 0' <<<"$output"
	assert_success
	run runtime list
	assert_success
	assert_line --index 0 --regexp '^ID +PID +STATUS'
}

@test "cli: list shows containers as a table, as json and quietly" {
	set_args sleep 1000
	runtime create --bundle "$BUNDLE" a1 </dev/null >/dev/null 2>&1
	runtime create --bundle "$BUNDLE" b2 </dev/null >/dev/null 2>&1
	local pid
	pid=$(state_field a1 .pid)

	run runtime list
	assert_success
	assert_line --index 0 --regexp '^ID +PID +STATUS'
	assert_line --regexp "^a1 +$pid +created +"
	assert_line --regexp "^b2 +[0-9]+ +created +"

	run runtime list -f json
	assert_success
	run jq -r 'sort_by(.id) | .[] | "\(.id) \(.status) \(.pid)"' <<<"$output"
	assert_line --index 0 "a1 created $pid"
	assert_line --index 1 --regexp '^b2 created [1-9][0-9]*$'

	run runtime list --quiet
	assert_success
	run sort <<<"$output"
	assert_output $'a1\nb2'

	runtime start a1
	wait_for_status a1 running
	run runtime list --format json
	run jq -r '.[] | select(.id == "a1") | .status' <<<"$output"
	assert_output running
}
