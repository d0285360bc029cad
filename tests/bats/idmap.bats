#!/usr/bin/env bats
# Id mapping policy: the default map from the subordinate ranges, config
# mappings (also Podman's keep-id layout), ids outside the map refused
# before start, the helper checks and their fixes, the single-id fallback,
# and newuidmap-shim (installed with file capabilities by
# tests/setup-shim.sh, run as root by run-tests.sh).

load helpers

# Our unshare'd target processes die with the test; then the shared
# teardown of helpers.bash runs.
TARGETS=()
eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"
teardown() {
	local p
	for p in "${TARGETS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	helpers_teardown
}

norm_map() {
	awk '{ $1 = $1; print }'
}

# All "START COUNT" lines of the caller in FILE, in file order.
all_ranges() {
	awk -F: -v u="$(id -un)" -v n="$(id -u)" '($1 == u || $1 == n) && NF == 3 && $3 > 0 { print $2, $3 }' "$1"
}

use_default_map() {
	update_config 'del(.linux.uidMappings, .linux.gidMappings)'
}

# fake_helpers: newuidmap/newgidmap that are neither setuid nor capable,
# first on PATH (the runtime searches PATH before the standard dirs).
fake_helpers() {
	FAKE=$BATS_TEST_TMPDIR/fakebin
	mkdir -p "$FAKE"
	printf '#!/bin/sh\necho "fake $0 must not run" >&2\nexit 1\n' >"$FAKE/newuidmap"
	cp "$FAKE/newuidmap" "$FAKE/newgidmap"
	chmod 0755 "$FAKE/newuidmap" "$FAKE/newgidmap"
}

# assert_shim_wrote_maps US UC: the --debug log in $stderr shows the shim
# writing the default uid map (own id to 0, US..US+UC-1 from 1) and a gid map.
assert_shim_wrote_maps() {
	grep -qE "idmap: running: $OCIRT_SHIM [0-9]+ 0 $HOST_UID 1 1 $1 $2" <<<"$stderr" ||
		fail "the shim did not write the uid map: $stderr"
	grep -qE "idmap: running: $OCIRT_SHIM --gid [0-9]+ 0 $HOST_GID 1 1 " <<<"$stderr" ||
		fail "the shim did not write the gid map: $stderr"
}

# userns_target: a process of ours in a new user namespace whose maps are
# not written yet; sets TARGET.
userns_target() {
	unshare -U sleep 60 &
	TARGET=$!
	TARGETS+=("$TARGET")
	local i self
	self=$(readlink /proc/self/ns/user)
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink "/proc/$TARGET/ns/user" 2>/dev/null)" != "$self" ] && return 0
		sleep 0.02
	done
	fail "unshare -U did not make a user namespace"
}


# ------------------------------------------------------------ the map

@test "idmap: the default map is caller -> 0, then every subordinate range from 1" {
	requires_ours "build its own map for a config without mappings"
	mapfile -t ur < <(all_ranges /etc/subuid)
	mapfile -t gr < <(all_ranges /etc/subgid)
	[ "${#ur[@]}" -gt 0 ] && [ "${#gr[@]}" -gt 0 ] || skip "no subordinate ranges for $HOST_USER"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	[ -z "$(grep -v 'ambient capability' <<<"$stderr")" ] || fail "unexpected stderr: $stderr"
	local want="0 $HOST_UID 1" next=1 s c
	for r in "${ur[@]}"; do
		read -r s c <<<"$r"
		want+=$'\n'"$next $s $c"
		next=$((next + c))
	done
	want+=$'\n--\n'"0 $HOST_GID 1"
	next=1
	for r in "${gr[@]}"; do
		read -r s c <<<"$r"
		want+=$'\n'"$next $s $c"
		next=$((next + c))
	done
	run norm_map <<<"$output"
	assert_output "$want"
}

@test "idmap: config mappings are written as given (three ranges)" {
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	read -r gs gc < <(subid_range /etc/subgid) || skip "no /etc/subgid range"
	[ "$uc" -ge 2000 ] && [ "$gc" -ge 2000 ] || skip "subordinate ranges smaller than 2000"
	update_config '.linux.uidMappings = [{containerID: 0, hostID: $u, size: 1},
			{containerID: 1, hostID: ($us + 1000), size: 1000},
			{containerID: 5000, hostID: $us, size: 1000}]
		| .linux.gidMappings = [{containerID: 0, hostID: $g, size: 1},
			{containerID: 1, hostID: $gs, size: 2000}]' \
		--argjson u "$HOST_UID" --argjson g "$HOST_GID" --argjson us "$us" --argjson gs "$gs"
	run_ctr sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	assert_success
	run norm_map <<<"$output"
	assert_output "0 $HOST_UID 1
1 $((us + 1000)) 1000
5000 $us 1000
--
0 $HOST_GID 1
1 $gs 2000"
}

@test "idmap: keep-id layout puts the caller at container id 1000" {
	requires_ours "run a keep-id layout with process.user 1000 (runc 1.1: fchown of stdio fails)"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	read -r gs gc < <(subid_range /etc/subgid) || skip "no /etc/subgid range"
	[ "$uc" -ge 2000 ] && [ "$gc" -ge 2000 ] || skip "subordinate ranges smaller than 2000"
	# As podman --userns=keep-id: 0..999 and 1001.. from the subordinate
	# ranges, the caller's own id as 1000.
	update_config '.linux.uidMappings = [{containerID: 0, hostID: $us, size: 1000},
			{containerID: 1000, hostID: $u, size: 1},
			{containerID: 1001, hostID: ($us + 1000), size: ($uc - 1000)}]
		| .linux.gidMappings = [{containerID: 0, hostID: $gs, size: 1000},
			{containerID: 1000, hostID: $g, size: 1},
			{containerID: 1001, hostID: ($gs + 1000), size: ($gc - 1000)}]
		| .process.user = {uid: 1000, gid: 1000}' \
		--argjson u "$HOST_UID" --argjson g "$HOST_GID" --argjson us "$us" --argjson uc "$uc" \
		--argjson gs "$gs" --argjson gc "$gc"
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	add_mount /shared none "$d" rbind rw
	run_ctr sh -c 'id -u; id -g; echo x > /shared/mine; stat -c "%u %g" /shared/mine; grep -c . /proc/self/uid_map'
	assert_success
	assert_line --index 0 1000
	assert_line --index 1 1000
	assert_line --index 2 "1000 1000"
	assert_line --index 3 3
	# On the host the file is the caller's own.
	run stat -c '%u %g' "$d/mine"
	assert_output "$HOST_UID $HOST_GID"
}

# ------------------------------------------------ refused before start

@test "idmap: process.user.uid outside the map is refused before start, naming it" {
	requires_ours "check process.user against the map before starting"
	use_default_map
	update_config '.process.user = {uid: 4000000000, gid: 0}'
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	add_mount /shared none "$d" rbind rw
	set_args sh -c 'touch /shared/ran'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'process\.user\.uid 4000000000 is not mapped' 'mapped container uids: 0, 1-'
	[ ! -e "$d/ran" ] || fail "the process ran"
	assert_no_containers
}

@test "idmap: additionalGids, a tmpfs uid= option and a device gid outside the map are refused" {
	requires_ours "check every id the config uses against the map"
	use_default_map
	update_config '.process.user = {uid: 0, gid: 0, additionalGids: [5, 3999999999]}'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'process\.user\.additionalGids\[1\] 3999999999 is not mapped'
	update_config '.process.user = {uid: 0, gid: 0}'
	add_mount /scratch tmpfs tmpfs uid=3999999998 mode=0755
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'mounts\[[0-9]+\] \(`/scratch`\) option uid= 3999999998'
	update_config '.mounts |= map(select(.destination != "/scratch"))
		| .linux.devices = [{path: "/dev/null2", type: "c", major: 1, minor: 3, gid: 3999999997}]'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux\.devices\[0\] \(`/dev/null2`\) gid 3999999997'
	assert_no_containers
}

@test "idmap: a config mapping outside the subordinate ids names the /etc/subuid line" {
	requires_ours "name the /etc/subuid line that would allow a mapping"
	use_subid_mappings
	update_config '.linux.uidMappings[1].hostID = 7 | .linux.uidMappings[1].size = 10'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux\.uidMappings\[1\]: host uids 7-16' "add \`$HOST_USER:7:10\` to /etc/subuid"
	assert_no_containers
}

@test "idmap: overlapping config mappings are refused with both entries named" {
	requires_ours "check config mappings for overlaps"
	use_subid_mappings
	update_config '.linux.gidMappings += [{containerID: 5, hostID: (.linux.gidMappings[1].hostID + 100000000), size: 3}]'
	run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'gidMappings\[1\] and linux\.gidMappings\[2\] overlap in the container'
	assert_no_containers
}

# ------------------------------------------------------------ helpers

@test "idmap: --debug shows the exact helper command line" {
	requires_ours "log the newuidmap command line"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	use_default_map
	set_args true
	run --separate-stderr runtime --debug run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	grep -qE "idmap: running: /[^ ]*newuidmap [0-9]+ 0 $HOST_UID 1 1 $us $uc" <<<"$stderr" ||
		fail "no newuidmap command line in: $stderr"
	grep -qE "idmap: running: /[^ ]*newgidmap [0-9]+ 0 $HOST_GID 1 1 " <<<"$stderr" ||
		fail "no newgidmap command line in: $stderr"
}

@test "idmap: an unprivileged newuidmap on PATH gives the single-id map and one warning with the fix" {
	requires_ours "check the helper's privileges before using it"
	fake_helpers
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'
	PATH="$FAKE:$PATH" run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	run norm_map <<<"$output"
	assert_output "0 $HOST_UID 1
0 $HOST_GID 1
deny"
	local warn
	warn=$(grep -v 'ambient capability' <<<"$stderr")
	[ "$(grep -c . <<<"$warn")" -eq 1 ] || fail "expected one warning line, got: $warn"
	grep -q "warning: \`$FAKE/newuidmap\` is neither setuid root nor has the cap_setuid file capability" <<<"$warn" ||
		fail "warning does not name the helper: $warn"
	grep -q "sudo setcap cap_setuid+ep $FAKE/newuidmap" <<<"$warn" || fail "no setcap fix: $warn"
	grep -q "mapping only your own id to root" <<<"$warn" || fail "warning does not say what it limits: $warn"
	! grep -q "must not run" <<<"$stderr" || fail "the fake helper was run"
}

@test "idmap: config mappings with an unprivileged newuidmap fail with the setcap fix" {
	requires_ours "check the helper's privileges before using it"
	fake_helpers
	use_subid_mappings
	PATH="$FAKE:$PATH" run --separate-stderr runtime run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux\.uidMappings maps more than your own uid, which needs newuidmap' \
		"sudo setcap cap_setuid\+ep $FAKE/newuidmap"
	! grep -q "must not run" <<<"$stderr" || fail "the fake helper was run"
	assert_no_containers
}

@test "idmap: --idmap-helper that does not exist is an error" {
	requires_ours "take --idmap-helper"
	use_default_map
	run --separate-stderr runtime --idmap-helper "$BATS_TEST_TMPDIR/nope" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--idmap-helper \`$BATS_TEST_TMPDIR/nope\`: not an executable file"
	assert_no_containers
}

@test "idmap: --idmap-helper and OCIRT_IDMAP_HELPER map through newuidmap-shim" {
	requires_ours "take --idmap-helper"
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map; cat /proc/self/setgroups'
	run --separate-stderr runtime --debug --idmap-helper "$OCIRT_SHIM" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_line --index 1 --regexp "^ +1 +$us +$uc$"
	assert_line --index 2 allow
	grep -qE "running: $OCIRT_SHIM [0-9]+ 0 $HOST_UID 1" <<<"$stderr" || fail "shim not used: $stderr"
	grep -qE "running: $OCIRT_SHIM --gid [0-9]+ 0 $HOST_GID 1" <<<"$stderr" || fail "shim --gid not used: $stderr"
	# The same through the environment, with the setuid-root copy.
	[ -x "${OCIRT_SHIM_SUID:-}" ] || skip "no setuid copy of the shim"
	CID=${CID}e
	OCIRT_IDMAP_HELPER=$OCIRT_SHIM_SUID run --separate-stderr runtime --debug run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_line --index 1 --regexp "^ +1 +$us +$uc$"
	grep -q "running: $OCIRT_SHIM_SUID --gid" <<<"$stderr" || fail "OCIRT_IDMAP_HELPER not used: $stderr"
}

# --------------------------- discovery without shadow's helpers installed

# runtime_with_path DIRS ARGS...: the runtime with PATH=DIRS only, as on a
# host where newuidmap/newgidmap are not installed (they are in /usr/bin
# here, which such a PATH leaves out; the runtime searches standard
# directories only when PATH is unset).
runtime_with_path() {
	local dirs=$1
	shift
	timeout --kill-after=5 "$OCIRT_TIMEOUT" env PATH="$dirs" "${RUNTIME_BIN:-$OCIRT}" --root "$ROOT" "$@"
}

# assert_full_map US UC: the container printed its uid_map, gid_map and
# setgroups: the caller at 0, then the subordinate ranges from 1.
assert_full_map() {
	local us=$1 uc=$2
	assert_line --index 0 --regexp "^ +0 +$HOST_UID +1$"
	assert_line --index 1 --regexp "^ +1 +$us +$uc$"
	grep -qE "^ +0 +$HOST_GID +1$" <<<"$output" || fail "no gid line for $HOST_GID: $output"
	assert_line --index -1 allow
}

@test "idmap: without newuidmap/newgidmap installed, the shim on PATH maps the subordinate ranges" {
	requires_ours "find newuidmap-shim on its own"
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	local shimdir
	shimdir=$(dirname "$OCIRT_SHIM")
	[ ! -e "$shimdir/newuidmap" ] && [ ! -e "$shimdir/newgidmap" ] || fail "$shimdir has shadow's helpers"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'
	run --separate-stderr runtime_with_path "$shimdir" --debug run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_full_map "$us" "$uc"
	grep -qF "helpers $OCIRT_SHIM (no newuidmap on PATH, newuidmap-shim on PATH), $OCIRT_SHIM (no newgidmap on PATH, newuidmap-shim on PATH)" <<<"$stderr" ||
		fail "the debug log does not name the shim as the helper found: $stderr"
	assert_shim_wrote_maps "$us" "$uc"
	! grep -q "warning:" <<<"$stderr" || fail "a warning with a working shim: $stderr"
}

@test "idmap: without newuidmap/newgidmap installed, the shim next to the runtime is used" {
	requires_ours "find newuidmap-shim on its own"
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	# An install dir of our own: a copy of the runtime and, beside it, the
	# root-installed capable shim (a symlink keeps its file capability).
	local dir=$BATS_TEST_TMPDIR/prefix empty=$BATS_TEST_TMPDIR/empty
	mkdir -p "$dir" "$empty"
	cp "$OCIRT" "$dir/ocirt-rootless"
	ln -s "$OCIRT_SHIM" "$dir/newuidmap-shim"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'
	RUNTIME_BIN=$dir/ocirt-rootless run --separate-stderr runtime_with_path "$empty" --debug run \
		--bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_full_map "$us" "$uc"
	grep -qF "helpers $dir/newuidmap-shim (no newuidmap on PATH, newuidmap-shim next to the runtime)" <<<"$stderr" ||
		fail "the debug log does not name the shim next to the runtime: $stderr"
	grep -qE "idmap: running: $dir/newuidmap-shim --gid [0-9]+ 0 $HOST_GID 1 1 " <<<"$stderr" ||
		fail "the shim did not write the gid map: $stderr"
}

@test "idmap: with neither shadow's helpers nor the shim, the single-id map and one warning" {
	requires_ours "fall back to a single-id map"
	local empty=$BATS_TEST_TMPDIR/empty
	mkdir -p "$empty"
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim is installed next to $OCIRT"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'
	run --separate-stderr runtime_with_path "$empty" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	run norm_map <<<"$output"
	assert_output "0 $HOST_UID 1
0 $HOST_GID 1
deny"
	local warn
	warn=$(grep -v 'ambient capability' <<<"$stderr")
	[ "$(grep -c . <<<"$warn")" -eq 1 ] || fail "expected one warning line, got: $warn"
	grep -q "warning: newuidmap is not installed (Debian/Ubuntu: \`sudo apt install uidmap\`; .*), and no newuidmap-shim was found; mapping only your own id to root" <<<"$warn" ||
		fail "the warning does not say why, the fix and what it limits: $warn"
}

# shadow_copies DIR: unprivileged copies of shadow's newuidmap and
# newgidmap in DIR (a copy by the test user has no setuid bit and no file
# capability), as on hosts and images that install them without.
shadow_copies() {
	local dir=$1 u g
	u=$(command -v newuidmap) && g=$(command -v newgidmap) ||
		skip "shadow's newuidmap/newgidmap are not installed"
	mkdir -p "$dir"
	cp "$u" "$dir/newuidmap"
	cp "$g" "$dir/newgidmap"
	[ ! -u "$dir/newuidmap" ] && [ -z "$(getcap "$dir/newuidmap" 2>/dev/null)" ] ||
		fail "the copy of $u kept its privileges"
}

@test "idmap: unprivileged newuidmap/newgidmap first on PATH and a capable shim: the shim maps the ranges" {
	requires_ours "prefer a working newuidmap-shim to shadow's helpers that cannot work"
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	local shadow=$BATS_TEST_TMPDIR/shadow
	shadow_copies "$shadow"
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'
	run --separate-stderr runtime_with_path "$shadow:$(dirname "$OCIRT_SHIM")" --debug run \
		--bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_full_map "$us" "$uc"
	grep -qF "helpers $OCIRT_SHIM (newuidmap on PATH cannot write maps, newuidmap-shim on PATH), $OCIRT_SHIM (newgidmap on PATH cannot write maps, newuidmap-shim on PATH)" <<<"$stderr" ||
		fail "the debug log does not name the shim as the helper chosen: $stderr"
	assert_shim_wrote_maps "$us" "$uc"
	! grep -q "idmap: running: $shadow/" <<<"$stderr" || fail "the unprivileged copy was run: $stderr"
	! grep -q "warning:" <<<"$stderr" || fail "a warning with a working shim: $stderr"
	# config mappings beyond the own id go through the shim as well
	use_subid_mappings
	CID=${CID}m
	run --separate-stderr runtime_with_path "$shadow:$(dirname "$OCIRT_SHIM")" --debug run \
		--bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_line --index 1 --regexp "^ +1 +$us +[0-9]+$"
	grep -qE "idmap: running: $OCIRT_SHIM [0-9]+ " <<<"$stderr" || fail "config mappings not written by the shim: $stderr"
}

@test "idmap: unprivileged newuidmap/newgidmap and no working shim: the error names the helper and the fix" {
	requires_ours "check the helper's privileges before using it"
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim is installed next to $OCIRT"
	local shadow=$BATS_TEST_TMPDIR/shadow
	shadow_copies "$shadow"
	use_subid_mappings
	run --separate-stderr runtime_with_path "$shadow" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'linux\.uidMappings maps more than your own uid, which needs newuidmap' \
		"\`$shadow/newuidmap\` is neither setuid root nor has the cap_setuid file capability" \
		"sudo setcap cap_setuid\+ep $shadow/newuidmap" 'sudo chmod u\+s'
	assert_no_containers
	# a shim that lacks its capabilities too is named, the fix stays shadow's
	[ -x "${OCIRT_SHIM:-}" ] || skip "newuidmap-shim not built"
	cp "$OCIRT_SHIM" "$shadow/newuidmap-shim"
	run --separate-stderr runtime_with_path "$shadow" run --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "\`$shadow/newuidmap\` is neither setuid root" \
		"the newuidmap-shim found at \`$shadow/newuidmap-shim\` cannot either" \
		"sudo setcap cap_setuid\+ep $shadow/newuidmap"
	assert_no_containers
}

# ------------------------------------------------- the shim on its own

@test "shim: maps an allowed range and writes setgroups as newgidmap" {
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	read -r gs gc < <(subid_range /etc/subgid) || skip "no /etc/subgid range"
	userns_target
	run "$OCIRT_SHIM" "$TARGET" 0 "$HOST_UID" 1 1 "$us" "$uc"
	assert_success
	assert_output ''
	run norm_map <"/proc/$TARGET/uid_map"
	assert_output "0 $HOST_UID 1
1 $us $uc"
	run "$OCIRT_SHIM" --gid "$TARGET" 0 "$HOST_GID" 1 1 "$gs" 10
	assert_success
	run cat "/proc/$TARGET/setgroups"
	assert_output allow
	# Only the own gid: setgroups is denied (as newgidmap does).
	userns_target
	run "$OCIRT_SHIM" --gid "$TARGET" 0 "$HOST_GID" 1
	assert_success
	run cat "/proc/$TARGET/setgroups" "/proc/$TARGET/gid_map"
	assert_line --index 0 deny
}

@test "shim: refuses a range outside the caller's subordinate ids" {
	requires_shim
	userns_target
	run "$OCIRT_SHIM" "$TARGET" 0 "$HOST_UID" 1 1 7 10
	assert_failure 1
	assert_output --regexp "^newuidmap-shim: refused: line 2 maps uids 7-16, which are neither your uid $HOST_UID nor among your subordinate uids"
	run cat "/proc/$TARGET/uid_map"
	assert_output ''
}

@test "shim: refuses overlapping ranges, inside and outside the namespace" {
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	userns_target
	run "$OCIRT_SHIM" "$TARGET" 0 "$us" 10 5 "$((us + 100))" 10
	assert_failure 1
	assert_output "newuidmap-shim: refused: lines 1 and 2 overlap inside the namespace (ID 0 and 5)"
	run "$OCIRT_SHIM" "$TARGET" 0 "$us" 10 100 "$((us + 5))" 10
	assert_failure 1
	assert_output "newuidmap-shim: refused: lines 1 and 2 overlap outside the namespace (LOWERID $us and $((us + 5)))"
	run cat "/proc/$TARGET/uid_map"
	assert_output ''
}

@test "shim: refuses another user's process and a process without its own user namespace" {
	requires_shim
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	run "$OCIRT_SHIM" 1 0 "$us" 10
	assert_failure 1
	assert_output --regexp "^newuidmap-shim: refused: process 1 belongs to uid [0-9]+ gid [0-9]+, not to you \(uid $HOST_UID gid $HOST_GID\)$"
	sleep 60 &
	local mine=$!
	TARGETS+=("$mine")
	run "$OCIRT_SHIM" "$mine" 0 "$us" 10
	assert_failure 1
	assert_output "newuidmap-shim: refused: the user namespace of process $mine is owned by uid 0, not by you (uid $HOST_UID)"
}

@test "shim: refuses a bogus pid and malformed arguments" {
	requires_shim
	local gone
	sh -c 'exit 0' &
	gone=$!
	wait "$gone" || true
	run "$OCIRT_SHIM" "$gone" 0 "$HOST_UID" 1
	assert_failure 1
	assert_output "newuidmap-shim: process $gone: no such process"
	run "$OCIRT_SHIM" 12x 0 "$HOST_UID" 1
	assert_output "newuidmap-shim: PID \`12x\` is not a decimal number"
	run "$OCIRT_SHIM" 0 0 "$HOST_UID" 1
	assert_output "newuidmap-shim: PID \`0\` is not a process id"
	run "$OCIRT_SHIM" "$$" 0 "$HOST_UID" 1 5
	assert_output "newuidmap-shim: expected ID LOWERID COUNT triples after PID (see --help)"
	run "$OCIRT_SHIM" "$$" 0 "$HOST_UID" 0
	assert_output "newuidmap-shim: line 1: COUNT is 0"
	run "$OCIRT_SHIM" "$$" 0 4294967290 10
	assert_output "newuidmap-shim: line 1: 0 4294967290 10 reaches past id 4294967294"
	run "$OCIRT_SHIM" --uid "$$" 0 "$HOST_UID" 1
	assert_output "newuidmap-shim: unknown option \`--uid\` (only --gid, first)"
	local args=() i
	for ((i = 0; i < 341; i++)); do args+=("$i" "$((HOST_UID))" 1); done
	run "$OCIRT_SHIM" "$$" "${args[@]}"
	assert_output "newuidmap-shim: 341 map lines: the kernel takes at most 340"
}

@test "shim: without a capability it says how to install it" {
	requires_shim
	cp "$OCIRT_SHIM" "$BATS_TEST_TMPDIR/plain-shim"
	userns_target
	run "$BATS_TEST_TMPDIR/plain-shim" "$TARGET" 0 "$HOST_UID" 1
	assert_failure 1
	assert_output "newuidmap-shim: this program has no cap_setuid capability: as root, run \`setcap cap_setuid,cap_setgid+ep\` on it (or make it setuid root)"
}

@test "shim: the setuid-root install drops to the caller and maps the same" {
	requires_shim
	[ -u "${OCIRT_SHIM_SUID:-}" ] || skip "no setuid copy of the shim"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	userns_target
	run "$OCIRT_SHIM_SUID" "$TARGET" 0 "$HOST_UID" 1 1 "$us" 5
	assert_success
	run norm_map <"/proc/$TARGET/uid_map"
	assert_output "0 $HOST_UID 1
1 $us 5"
	run "$OCIRT_SHIM_SUID" "$TARGET" 0 "$HOST_UID" 1
	assert_failure 1
	assert_output "newuidmap-shim: write uid_map: Operation not permitted"
}

# ----------------------------------------- a user without subordinate ids

# as_nosub CMD...: run CMD as the user without subordinate ids (sudo rule
# from tests/setup-shim.sh).
as_nosub() {
	sudo -n -u "$OCIRT_NOSUB_USER" env XDG_RUNTIME_DIR="$OCIRT_NOSUB_XDG" HOME=/tmp PATH="$PATH" "$@"
}

requires_nosub() {
	[ -n "${OCIRT_NOSUB_USER:-}" ] || skip "no user without subordinate ids (tests/setup-shim.sh)"
	command -v sudo >/dev/null || skip "sudo not installed: cannot act as $OCIRT_NOSUB_USER"
	as_nosub test -x "$OCIRT" 2>/dev/null || skip "cannot run $OCIRT as $OCIRT_NOSUB_USER via sudo"
}

@test "idmap: a user without subordinate ids gets the single-id map and one warning with the line to add" {
	requires_ours "fall back to a single-id map"
	requires_nosub
	use_default_map
	set_args sh -c 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u'
	local d nuid ngid
	d=$(as_nosub mktemp -d /tmp/ocirt-nosub.XXXXXX)
	nuid=$(id -u "$OCIRT_NOSUB_USER")
	ngid=$(id -g "$OCIRT_NOSUB_USER")
	tar -C "$BUNDLE" -cf - . | as_nosub tar -C "$d" -xf -
	as_nosub mkdir -m 0700 "$d/root"
	run --separate-stderr as_nosub timeout 20 "$OCIRT" --root "$d/root" run --bundle "$d" c1 </dev/null
	local out=$output err=$stderr st=$status
	# and process.user 1000 is refused, saying why
	as_nosub sh -c "jq '.process.user = {uid: 1000, gid: 0}' $d/config.json > $d/c && mv $d/c $d/config.json"
	run --separate-stderr as_nosub timeout 20 "$OCIRT" --root "$d/root" run --bundle "$d" c2 </dev/null
	local out2=$output err2=$stderr st2=$status
	as_nosub rm -rf "$d"
	[ "$st" -eq 0 ] || fail "run as $OCIRT_NOSUB_USER failed ($st): $err"
	run norm_map <<<"$out"
	assert_output "0 $nuid 1
0 $ngid 1
deny
0"
	local warn
	warn=$(grep -v 'ambient capability' <<<"$err")
	[ "$(grep -c . <<<"$warn")" -eq 1 ] || fail "expected one warning line, got: $warn"
	grep -qE "warning: $OCIRT_NOSUB_USER \(uid $nuid\) has no subordinate uids \(asked libsubid and /etc/subuid\): as root, add \`$OCIRT_NOSUB_USER:[0-9]+:65536\` to /etc/subuid and /etc/subgid; mapping only your own id to root" <<<"$warn" ||
		fail "warning does not say why and what to add: $warn"
	[ "$st2" -eq 1 ] || fail "process.user 1000 without subordinate ids: status $st2"
	grep -q "process.user.uid 1000 is not mapped .*only your own uid is mapped (to 0) because $OCIRT_NOSUB_USER (uid $nuid) has no subordinate uids" <<<"$err2" ||
		fail "error does not explain: $err2"
}
