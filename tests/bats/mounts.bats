#!/usr/bin/env bats
# Mounts and the container's file system view: proc, tmpfs, binds, devices,
# masked and read-only paths, read-only root, uts names, sysctls,
# propagation, --no-pivot.

load helpers

# mount_opts DEST: the per-mount options of DEST in the container's
# /proc/self/mountinfo (field 6), from the output of a `cat mountinfo`.
mount_opts() {
	awk -v d="$1" '$5 == d { o = $6 } END { print o }'
}

@test "mounts: /proc is a proc mount of the container's pid namespace" {
	run_ctr sh -c 'grep " /proc " /proc/self/mounts; cat /proc/1/comm; ls /proc | grep -cE "^[0-9]+$"'
	assert_success
	assert_line --index 0 --regexp '^proc /proc proc '
	assert_line --index 1 sh
	# only the container's own processes (sh, ls, grep and maybe a subshell)
	[ "${lines[2]}" -le 5 ] || fail "container sees ${lines[2]} processes in /proc"
}

@test "mounts: tmpfs with size and mode" {
	add_mount /data tmpfs tmpfs size=1m mode=1770 nosuid nodev
	run_ctr sh -c 'stat -c %a /data; df -k /data | tail -n 1; grep " /data " /proc/self/mounts;
		dd if=/dev/zero of=/data/big bs=1k count=2048 2>&1; echo dd=$?'
	assert_success
	assert_line --index 0 1770
	assert_line --index 1 --regexp '^tmpfs +1024 '
	assert_line --index 2 --regexp '^tmpfs /data tmpfs [^ ]*nosuid'
	assert_line --index 2 --regexp '^tmpfs /data tmpfs [^ ]*nodev'
	assert_output --partial 'No space left on device'
	refute_line dd=0
}

@test "mounts: a read-only bind of a host dir rejects writes" {
	local d=$BATS_TEST_TMPDIR/hostdir
	mkdir "$d"
	echo original >"$d/file"
	add_mount /ro none "$d" rbind ro
	run_ctr sh -c 'cat /ro/file; echo new > /ro/file; echo w=$?; touch /ro/other; echo t=$?'
	assert_success
	assert_line --index 0 original
	assert_stderr_contains 'Read-only file system'
	refute_line w=0
	refute_line t=0
	run cat "$d/file"
	assert_output original
	[ ! -e "$d/other" ]
}

@test "mounts: a read-write bind of a host dir writes through" {
	local d=$BATS_TEST_TMPDIR/hostdir
	mkdir "$d"
	add_mount /rw none "$d" rbind rw
	run_ctr sh -c 'echo hello > /rw/file'
	assert_success
	run cat "$d/file"
	assert_output hello
}

@test "mounts: bind mounts keep nosuid, nodev and noexec" {
	local d=$BATS_TEST_TMPDIR/hostdir
	mkdir "$d"
	cp "$BUNDLE/rootfs/bin/busybox" "$d/busybox"
	add_mount /b none "$d" rbind nosuid nodev noexec ro
	run_ctr sh -c 'cat /proc/self/mountinfo; /b/busybox true; echo exec=$?'
	assert_success
	local o
	o=$(mount_opts /b <<<"$output")
	[[ ",$o," == *,nosuid,* ]] || fail "/b lacks nosuid: $o"
	[[ ",$o," == *,nodev,* ]] || fail "/b lacks nodev: $o"
	[[ ",$o," == *,noexec,* ]] || fail "/b lacks noexec: $o"
	[[ ",$o," == *,ro,* ]] || fail "/b is not read-only: $o"
	refute_line exec=0
}

@test "mounts: a read-only bind of a host mount with locked nosuid/nodev keeps them" {
	# In a user namespace the flags of mounts from the host are locked: a
	# read-only remount that drops nosuid/nodev/noexec fails with EPERM.
	local m src="" flags=""
	for m in ${OCIRT_LOCKED_MOUNT:-} /dev/shm /run /run/lock /dev/mqueue /tmp /dev /proc /sys; do
		flags=$(awk -v d="$m" '$5 == d { o = $6 } END { print o }' /proc/self/mountinfo)
		if [[ ",$flags," =~ ,(nosuid|nodev), ]] && [ -r "$m" ] && [ -x "$m" ]; then
			src=$m
			break
		fi
	done
	[ -n "$src" ] || skip "no host mount with nosuid or nodev among the usual ones on this host"
	add_mount /hostmnt none "$src" rbind ro
	run_ctr cat /proc/self/mountinfo
	assert_success
	local o f
	o=$(mount_opts /hostmnt <<<"$output")
	[[ ",$o," == *,ro,* ]] || fail "/hostmnt (host $src) is not read-only: $o"
	for f in nosuid nodev noexec; do
		if [[ ",$flags," == *,$f,* ]]; then
			[[ ",$o," == *,$f,* ]] || fail "/hostmnt (host $src, $flags) lost $f: $o"
		fi
	done
}

@test "mounts: the bind destination is created when missing" {
	local d=$BATS_TEST_TMPDIR/hostdir
	mkdir "$d"
	echo x >"$d/f"
	add_mount /new/deep/dir none "$d" rbind
	run_ctr cat /new/deep/dir/f
	assert_success
	assert_output x
}

@test "mounts: a file can be bind-mounted onto a file" {
	echo "hello file" >"$BATS_TEST_TMPDIR/hostfile"
	add_mount /etc/motd none "$BATS_TEST_TMPDIR/hostfile" rbind ro
	run_ctr cat /etc/motd
	assert_success
	assert_output "hello file"
}

@test "mounts: /dev/pts is a new devpts instance with ptmx" {
	run_ctr sh -c 'grep " /dev/pts " /proc/self/mounts; test -c /dev/pts/ptmx && echo ptmx; test -e /dev/ptmx && echo devptmx; ls /dev/pts | grep -c "^[0-9]"; true'
	assert_success
	assert_line --index 0 --regexp '^devpts /dev/pts devpts '
	assert_line ptmx
	assert_line devptmx
	# a new instance: none of the host's terminals
	assert_line --index 3 0
}

@test "mounts: /dev/null, zero, full, random, urandom and tty exist and work" {
	run_ctr sh -c '
		for d in null zero full random urandom tty; do test -c /dev/$d && echo "c $d"; done
		echo gone > /dev/null && echo null-ok
		test -z "$(cat /dev/null)" && echo null-empty
		head -c 8 /dev/zero | od -An -tx1 | tr -d " \n"; echo
		head -c 16 /dev/urandom | wc -c
		echo x > /dev/full; echo full=$?'
	assert_success
	local d
	for d in null zero full random urandom tty; do
		assert_line "c $d"
	done
	assert_line null-ok
	assert_line null-empty
	assert_line 0000000000000000
	assert_line 16
	assert_stderr_contains 'No space left on device'
	refute_line full=0
}

@test "mounts: /dev/fd, /dev/stdin, /dev/stdout and /dev/stderr links" {
	run_ctr sh -c 'for l in fd stdin stdout stderr; do echo "$l $(readlink /dev/$l)"; done; echo hi | cat /dev/stdin'
	assert_success
	assert_line 'fd /proc/self/fd'
	assert_line 'stdin /proc/self/fd/0'
	assert_line 'stdout /proc/self/fd/1'
	assert_line 'stderr /proc/self/fd/2'
	assert_line hi
}

@test "mounts: /dev/shm is a writable tmpfs and /dev/mqueue is mqueue" {
	run_ctr sh -c 'grep -E " /dev/(shm|mqueue) " /proc/self/mounts; echo x > /dev/shm/f && cat /dev/shm/f'
	assert_success
	assert_line --regexp '^[^ ]+ /dev/shm tmpfs '
	assert_line --regexp '^[^ ]+ /dev/mqueue mqueue '
	assert_line x
}

@test "mounts: /sys is mounted read-only" {
	run_ctr sh -c 'test -d /sys/kernel && echo kernel; grep " /sys " /proc/self/mounts; touch /sys/x; echo t=$?'
	assert_success
	assert_line kernel
	assert_line --regexp '^[^ ]+ /sys [^ ]+ ro[, ]'
	refute_line t=0
}

@test "mounts: maskedPaths hide files and directories" {
	mkdir -p "$BUNDLE/rootfs/opt/secretdir"
	echo secret >"$BUNDLE/rootfs/opt/secretdir/inside"
	echo secret >"$BUNDLE/rootfs/opt/secretfile"
	update_config '.linux.maskedPaths += ["/opt/secretdir", "/opt/secretfile", "/opt/no-such-path"]'
	run_ctr sh -c '
		echo "keys $(stat -c "%F %t:%T" /proc/keys)"
		echo "file $(cat /opt/secretfile 2>/dev/null | wc -c)"
		echo "dir $(ls -A /opt/secretdir | wc -l)"
		echo "firmware $(ls -A /sys/firmware | wc -l)"
		test -e /opt/no-such-path || echo no-such-path-absent'
	assert_success
	# masked files are /dev/null bound over them
	assert_line 'keys character special file 1:3'
	assert_line 'file 0'
	assert_line 'dir 0'
	assert_line 'firmware 0'
	assert_line no-such-path-absent
	refute_output --partial secret
}

@test "mounts: readonlyPaths cannot be written" {
	mkdir -p "$BUNDLE/rootfs/data/ro" "$BUNDLE/rootfs/data/rw"
	update_config '.linux.readonlyPaths += ["/data/ro"]'
	run_ctr sh -c '
		touch /data/ro/f; echo ro=$?
		touch /data/rw/f; echo rw=$?
		echo 1 > /proc/sys/kernel/domainname; echo procsys=$?
		cat /proc/sys/kernel/ostype'
	assert_success
	refute_line ro=0
	assert_line rw=0
	refute_line procsys=0
	assert_line Linux
	[ ! -e "$BUNDLE/rootfs/data/ro/f" ]
}

@test "mounts: root.readonly makes / read-only but keeps tmpfs mounts writable" {
	update_config '.root.readonly = true'
	run_ctr sh -c 'touch /newfile; echo root=$?; touch /dev/shm/ok; echo shm=$?; grep " / " /proc/self/mounts'
	assert_success
	refute_line root=0
	assert_line shm=0
	assert_stderr_contains 'Read-only file system'
	assert_line --regexp '^[^ ]+ / [^ ]+ ro[, ]'
	[ ! -e "$BUNDLE/rootfs/newfile" ]
}

@test "mounts: hostname in the uts namespace" {
	update_config '.hostname = "testhost"'
	run_ctr sh -c 'hostname; uname -n'
	assert_success
	assert_output "testhost
testhost"
	# the host's name is untouched
	[ "$(hostname)" != testhost ]
}

@test "mounts: domainname in the uts namespace" {
	requires_ours "set domainname (runc 1.1 ignores it)"
	update_config '.hostname = "testhost" | .domainname = "example.org"'
	run_ctr sh -c 'cat /proc/sys/kernel/domainname'
	assert_success
	assert_output example.org
	[ "$(cat /proc/sys/kernel/domainname)" != example.org ]
}

@test "mounts: sysctl kernel.shm_rmid_forced in the ipc namespace" {
	[ "$(cat /proc/sys/kernel/shm_rmid_forced)" = 0 ] || skip "host has shm_rmid_forced=1 already"
	update_config '.linux.sysctl = {"kernel.shm_rmid_forced": "1"}'
	run_ctr cat /proc/sys/kernel/shm_rmid_forced
	assert_success
	assert_output 1
	[ "$(cat /proc/sys/kernel/shm_rmid_forced)" = 0 ]
}

@test "mounts: sysctl net.ipv4.ip_forward in a network namespace" {
	local host
	host=$(cat /proc/sys/net/ipv4/ip_forward)
	local want=$((1 - host))
	update_config '.linux.namespaces += [{type: "network"}]
		| .linux.sysctl = {"net.ipv4.ip_forward": $v}' --arg v "$want"
	run_ctr cat /proc/sys/net/ipv4/ip_forward
	assert_success
	assert_output "$want"
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host" ]
}

# root_propagation: the optional fields (shared:N, master:N) of the "/"
# line of a mountinfo on stdin.
root_propagation() {
	awk '$5 == "/" { s = ""; for (i = 7; $i != "-"; i++) s = s $i " "; print s }'
}

@test "mounts: rootfsPropagation private" {
	update_config '.linux.rootfsPropagation = "private"'
	run_ctr cat /proc/self/mountinfo
	assert_success
	run root_propagation <<<"$output"
	refute_output --partial 'shared:'
	refute_output --partial 'master:'
}

@test "mounts: rootfsPropagation shared" {
	requires_ours "leave the root mount shared (runc 1.1 makes it private at pivot_root)"
	update_config '.linux.rootfsPropagation = "shared"'
	run_ctr cat /proc/self/mountinfo
	assert_success
	run root_propagation <<<"$output"
	assert_output --regexp 'shared:[0-9]+'
}

@test "mounts: run --no-pivot gives the same root" {
	set_args sh -c 'ls /bin/busybox; cat /etc/hostname; test -e /work && echo host-root-visible; echo done'
	run runtime run --no-pivot --bundle "$BUNDLE" "$CID" </dev/null
	assert_success
	assert_line /bin/busybox
	assert_line ocirt
	refute_line host-root-visible
	assert_line done
}
