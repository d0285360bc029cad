#!/usr/bin/env bats
# User namespaces: id maps as the container sees them, ownership of files on
# the host, process.user inside the mapped range, supplementary groups.

load helpers

# norm_map: uid_map/gid_map lines with whitespace normalised.
norm_map() {
	awk '{ $1 = $1; print }'
}

@test "userns: uid_map and gid_map are the config's mappings" {
	run_ctr sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	assert_success
	run norm_map <<<"$output"
	assert_output "0 $HOST_UID 1
--
0 $HOST_GID 1"
}

@test "userns: the process is root inside and the caller outside" {
	start_detached sh -c 'sleep 1000'
	run stat -c '%u %g' "/proc/$CPID"
	assert_output "$HOST_UID $HOST_GID"
	CID=${CID}b
	run_ctr id
	assert_success
	assert_output --regexp '^uid=0\(root\) gid=0\(root\)'
}

@test "userns: two-range mappings through newuidmap/newgidmap" {
	use_subid_mappings
	run_ctr sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map'
	assert_success
	run norm_map <<<"$output"
	assert_output "0 $HOST_UID 1
1 $SUBUID_START $SUBUID_COUNT
--
0 $HOST_GID 1
1 $SUBGID_START $SUBGID_COUNT"
}

@test "userns: a config without user namespace gets caller -> 0 and the /etc/subuid range -> 1..N" {
	requires_ours "create a user namespace for a config that has none"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range for $HOST_USER"
	read -r gs gc < <(subid_range /etc/subgid) || skip "no /etc/subgid range for $HOST_USER"
	remove_userns
	run_ctr sh -c 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id'
	assert_success
	run norm_map <<<"$output"
	assert_line --index 0 "0 $HOST_UID 1"
	assert_line --index 1 "1 $us $uc"
	assert_line --index 3 "0 $HOST_GID 1"
	assert_line --index 4 "1 $gs $gc"
	assert_output --regexp 'uid=0\(root\) gid=0\(root\)'
}

@test "userns: without user namespace in the config, process.user 1000 maps to a subordinate id" {
	requires_ours "create a user namespace for a config that has none"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range for $HOST_USER"
	remove_userns
	update_config '.process.user = {uid: 1000, gid: 1000}'
	start_detached sleep 1000
	run stat -c %u "/proc/$CPID"
	assert_output "$((us + 999))"
}

@test "userns: files created in a bind-mounted host dir belong to the caller" {
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	add_mount /shared none "$d" rbind rw
	run_ctr sh -c 'echo data > /shared/file && mkdir /shared/dir && stat -c "%u %g" /shared/file'
	assert_success
	assert_output '0 0'
	run stat -c '%u %g' "$d/file" "$d/dir"
	assert_output "$HOST_UID $HOST_GID
$HOST_UID $HOST_GID"
	run cat "$d/file"
	assert_output data
}

@test "userns: host files of the caller appear as root's, others' as nobody's" {
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	touch "$d/mine"
	add_mount /shared none "$d" rbind ro
	add_mount /hostetc none /etc rbind ro
	run_ctr sh -c 'stat -c "%u %g" /shared/mine /hostetc/passwd'
	assert_success
	assert_line --index 0 '0 0'
	assert_line --index 1 '65534 65534'
}

@test "userns: process.user uid 1000 gid 1000 in the mapped range" {
	use_subid_mappings
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	chmod 0777 "$d"
	add_mount /shared none "$d" rbind rw
	update_config '.process.user = {uid: 1000, gid: 1000}'
	run_ctr sh -c 'id -u; id -g; echo x > /shared/f'
	assert_success
	assert_line --index 0 1000
	assert_line --index 1 1000
	run stat -c '%u %g' "$d/f"
	assert_output "$((SUBUID_START + 999)) $((SUBGID_START + 999))"
	rm -f "$d/f"
}

@test "userns: additionalGids become the supplementary groups" {
	requires_ours "set additionalGids in rootless containers"
	use_subid_mappings
	update_config '.process.user = {uid: 1000, gid: 1000, additionalGids: [5, 100, 2000]}'
	run_ctr sh -c 'id -G; grep ^Groups: /proc/self/status'
	assert_success
	assert_line --index 0 --regexp '^1000( [0-9]+)*$'
	local g
	for g in 5 100 2000; do
		assert_line --index 0 --regexp "(^| )$g( |$)"
		assert_line --index 1 --regexp "[[:space:]]$g([[:space:]]|$)"
	done
}

@test "userns: with newgidmap the container may call setgroups" {
	use_subid_mappings
	run_ctr cat /proc/self/setgroups
	assert_success
	assert_output allow
}

@test "userns: a mapping outside the caller's subordinate range is refused" {
	use_subid_mappings
	update_config '.linux.uidMappings[1].hostID = 1 | .linux.uidMappings[1].size = 10'
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error
	assert_no_containers
}

@test "userns: process.user outside the mapping fails before the process runs" {
	update_config '.process.user = {uid: 1000, gid: 1000}'
	local d=$BATS_TEST_TMPDIR/shared
	mkdir "$d"
	add_mount /shared none "$d" rbind rw
	set_args sh -c 'touch /shared/ran'
	run_detached run --bundle "$BUNDLE" "$CID"
	assert_runtime_error
	[ ! -e "$d/ran" ] || fail "the process ran as an unmapped user"
	assert_no_containers
}
