#!/usr/bin/env bats
# doctor: one finding per host check with the fix, JSON, exit status; each
# failure made to happen for real (a helper without privileges, a bad
# XDG_RUNTIME_DIR or state root, a user without subordinate ids).

load helpers

# doctor ARGS...: the runtime's doctor with this test's state root (mode
# 0700, as the runtime makes it).
doctor() {
	chmod 0700 "$ROOT"
	runtime doctor "$@"
}

# finding CHECK: the text finding of CHECK in $output.
finding() {
	grep -E "^(ok|warn|fail) +$1 " <<<"$output"
}

@test "doctor: one line per check, a summary, exit status 0 only without fail" {
	requires_ours "have a doctor"
	run doctor
	local body
	body=$(sed '$d' <<<"$output")
	[ -n "$body" ] || fail "no checks printed"
	while IFS= read -r l; do
		[[ "$l" =~ ^(ok|warn|fail)\ +[a-z0-9.-]+\ +[^\ ] ]] || fail "malformed line: $l"
		if [[ "$l" =~ ^(warn|fail) ]]; then
			[[ "$l" == *"; fix: "* ]] || fail "warn/fail without a fix: $l"
		fi
	done <<<"$body"
	local nok nwarn nfail
	nok=$(grep -c '^ok ' <<<"$body" || true)
	nwarn=$(grep -c '^warn ' <<<"$body" || true)
	nfail=$(grep -c '^fail ' <<<"$body" || true)
	assert_line --index -1 "$nok ok, $nwarn warn, $nfail fail"
	if [ "$nfail" -eq 0 ]; then
		[ "$status" -eq 0 ] || fail "exit status $status without failures"
	else
		[ "$status" -eq 1 ] || fail "exit status $status with $nfail failures"
	fi
	for c in userns subuid subgid newuidmap newgidmap xdg-runtime-dir state-root cgroup dev-fuse dev-net-tun \
		unprivileged-ports; do
		finding "$c" >/dev/null || fail "no $c check in: $output"
	done
}

@test "doctor: --format json has the same findings" {
	requires_ours "have a doctor"
	run doctor
	local text=$output
	run doctor --format json
	jq -e '.checks | length > 0' <<<"$output" >/dev/null || fail "not JSON with checks: $output"
	jq -e 'all(.checks[]; (.status | IN("ok", "warn", "fail")) and (.message | length > 0)
		and ((.status == "ok") or (.fix | length > 0)))' <<<"$output" >/dev/null ||
		fail "a finding without status, message or fix: $output"
	local n
	n=$(jq -r '.checks | length' <<<"$output")
	[ "$n" -eq "$(($(grep -c . <<<"$text") - 1))" ] || fail "json has $n checks, text $(grep -c . <<<"$text")"
	[ "$(jq -r '"\(.ok) ok, \(.warn) warn, \(.fail) fail"' <<<"$output")" = "$(tail -n 1 <<<"$text")" ] ||
		fail "counts differ"
	run doctor --json
	jq -e '.checks' <<<"$output" >/dev/null || fail "--json is not JSON"
	run doctor --format yaml
	assert_failure 1
	assert_output --partial "doctor: --format \`yaml\` is not text or json"
}

@test "doctor: user namespaces work and the subordinate ranges are this user's" {
	requires_ours "have a doctor"
	read -r us uc < <(subid_range /etc/subuid) || skip "no /etc/subuid range"
	run doctor
	finding userns | grep -q "^ok .*created a user namespace and mapped uid $HOST_UID to 0" ||
		fail "userns: $(finding userns)"
	finding subuid | grep -qE "^ok .*$us-$((us + uc - 1))" || fail "subuid: $(finding subuid)"
}

@test "doctor: an unprivileged newuidmap on PATH fails with the setcap fix" {
	requires_ours "have a doctor"
	local fake=$BATS_TEST_TMPDIR/fakebin
	mkdir -p "$fake"
	printf '#!/bin/sh\nexit 1\n' >"$fake/newuidmap"
	cp "$fake/newuidmap" "$fake/newgidmap"
	chmod 0755 "$fake"/*
	PATH="$fake:$PATH" run doctor
	assert_failure 1
	finding newuidmap | grep -qF "fail  newuidmap" || fail "newuidmap: $(finding newuidmap)"
	finding newuidmap | grep -qF "; fix: sudo setcap cap_setuid+ep $fake/newuidmap" || fail "fix: $(finding newuidmap)"
	finding newgidmap | grep -qF "; fix: sudo setcap cap_setgid+ep $fake/newgidmap" || fail "fix: $(finding newgidmap)"
	assert_line --index -1 --regexp ' [1-9][0-9]* fail$'
}

@test "doctor: --idmap-helper reports the shim and whether it can work" {
	requires_ours "have a doctor"
	[ -x "${OCIRT_SHIM:-}" ] || skip "newuidmap-shim not installed (tests/setup-shim.sh)"
	run runtime --idmap-helper "$OCIRT_SHIM" doctor
	finding newuidmap | grep -qF "ok    newuidmap" || fail "newuidmap: $(finding newuidmap)"
	finding newuidmap | grep -qF "\`$OCIRT_SHIM\` (configured), cap_setuid file capability" ||
		fail "newuidmap: $(finding newuidmap)"
	cp "$OCIRT_SHIM" "$BATS_TEST_TMPDIR/plain-shim"
	run runtime --idmap-helper "$BATS_TEST_TMPDIR/plain-shim" doctor
	assert_failure 1
	finding newgidmap | grep -qF "fix: sudo setcap cap_setuid,cap_setgid+ep $BATS_TEST_TMPDIR/plain-shim" ||
		fail "newgidmap: $(finding newgidmap)"
}

@test "doctor: without shadow's helpers on PATH it reports the shim it would use, or the missing helper" {
	requires_ours "have a doctor"
	requires_shim
	chmod 0700 "$ROOT"
	# PATH holds the installed shim only: newuidmap/newgidmap (in /usr/bin
	# here) are not installed as far as the runtime can tell.
	run timeout 20 env PATH="$(dirname "$OCIRT_SHIM")" "$OCIRT" --root "$ROOT" doctor
	finding newuidmap | grep -qF "ok    newuidmap          \`$OCIRT_SHIM\` (newuidmap-shim), cap_setuid file capability" ||
		fail "newuidmap: $(finding newuidmap)"
	finding newgidmap | grep -qF "ok    newgidmap          \`$OCIRT_SHIM\` (newuidmap-shim), cap_setgid file capability" ||
		fail "newgidmap: $(finding newgidmap)"
	local empty=$BATS_TEST_TMPDIR/empty
	mkdir -p "$empty"
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim is installed next to $OCIRT"
	run timeout 20 env PATH="$empty" "$OCIRT" --root "$ROOT" doctor
	finding newuidmap | grep -qF "warn  newuidmap          newuidmap is not installed: containers get a single-id map" ||
		fail "newuidmap: $(finding newuidmap)"
	finding newuidmap | grep -qF "; fix: sudo apt install uidmap" || fail "no fix: $(finding newuidmap)"
}

@test "doctor: an unprivileged newuidmap first on PATH gives way to a capable shim, as the runtime does" {
	requires_ours "have a doctor"
	requires_shim
	local u g shadow=$BATS_TEST_TMPDIR/shadow
	u=$(command -v newuidmap) && g=$(command -v newgidmap) || skip "shadow's newuidmap/newgidmap are not installed"
	mkdir -p "$shadow"
	cp "$u" "$g" "$shadow/"
	chmod 0700 "$ROOT"
	run timeout 20 env PATH="$shadow:$(dirname "$OCIRT_SHIM")" "$OCIRT" --root "$ROOT" doctor
	finding newuidmap | grep -qF "ok    newuidmap          \`$OCIRT_SHIM\` (newuidmap-shim), cap_setuid file capability; used because \`$shadow/newuidmap\` is neither setuid root nor has the cap_setuid file capability" ||
		fail "newuidmap: $(finding newuidmap)"
	finding newgidmap | grep -qF "ok    newgidmap          \`$OCIRT_SHIM\` (newuidmap-shim), cap_setgid file capability; used because \`$shadow/newgidmap\`" ||
		fail "newgidmap: $(finding newgidmap)"
	# without the shim: the failure and shadow's fix
	[ ! -e "$(dirname "$OCIRT")/newuidmap-shim" ] || skip "a newuidmap-shim is installed next to $OCIRT"
	run timeout 20 env PATH="$shadow" "$OCIRT" --root "$ROOT" doctor
	assert_failure 1
	finding newuidmap | grep -qF "fail  newuidmap          \`$shadow/newuidmap\` is neither setuid root" ||
		fail "newuidmap: $(finding newuidmap)"
	finding newuidmap | grep -qF "; fix: sudo setcap cap_setuid+ep $shadow/newuidmap" || fail "fix: $(finding newuidmap)"
}

@test "doctor: XDG_RUNTIME_DIR unset or with a loose mode is a warning with the fix" {
	requires_ours "have a doctor"
	XDG_RUNTIME_DIR= run doctor
	finding xdg-runtime-dir | grep -qE "^warn .*XDG_RUNTIME_DIR is not set.*/tmp/ocirt-rootless-$HOST_UID; fix: .*loginctl enable-linger $HOST_USER" ||
		fail "unset: $(finding xdg-runtime-dir)"
	local x=$BATS_TEST_TMPDIR/xdg
	mkdir -m 0755 "$x"
	XDG_RUNTIME_DIR=$x run doctor
	finding xdg-runtime-dir | grep -qF "warn  xdg-runtime-dir    XDG_RUNTIME_DIR \`$x\` has mode 0755, not 0700; fix: chmod 0700 $x" ||
		fail "0755: $(finding xdg-runtime-dir)"
}

@test "doctor: a state root others can write fails, one they can read warns" {
	requires_ours "have a doctor"
	local r=$BATS_TEST_TMPDIR/state
	mkdir -m 0777 "$r"
	chmod 0777 "$r"
	run "$OCIRT" --root "$r" doctor
	assert_failure 1
	finding state-root | grep -qF "fail  state-root         \`$r\` has mode 0777: writable by others, the runtime refuses it; fix: chmod 0700 $r" ||
		fail "0777: $(finding state-root)"
	chmod 0755 "$r"
	run "$OCIRT" --root "$r" doctor
	finding state-root | grep -qF "warn  state-root         \`$r\` has mode 0755: others can read container state; fix: chmod 0700 $r" ||
		fail "0755: $(finding state-root)"
	run "$OCIRT" --root "$r/sub/dir" doctor
	finding state-root | grep -qF "ok    state-root         \`$r/sub/dir\` will be created" ||
		fail "missing: $(finding state-root)"
}

@test "doctor: the cgroup line matches the host's cgroup mode" {
	requires_ours "have a doctor"
	run doctor
	case "$(stat -f -c %T /sys/fs/cgroup)" in
	cgroup2fs)
		finding cgroup | grep -q '^ok .*cgroup v2' || fail "v2 host: $(finding cgroup)"
		finding cgroup.delegation >/dev/null || fail "no delegation check on a v2 host"
		;;
	*)
		finding cgroup | grep -qE '^warn .*cgroup v1(\+v2 hybrid)?: limits unavailable' || fail "v1 host: $(finding cgroup)"
		;;
	esac
}

@test "doctor: /dev/fuse and /dev/net/tun lines match what this user can open" {
	requires_ours "have a doctor"
	run doctor
	local d c
	for d in /dev/fuse /dev/net/tun; do
		c=dev-${d##*/}
		c=${c/dev-tun/dev-net-tun}
		if [ ! -c "$d" ]; then
			finding "$c" | grep -q "^warn .*$d is missing" || fail "$d: $(finding "$c")"
		elif [ -r "$d" ] && [ -w "$d" ]; then
			finding "$c" | grep -q "^ok .*$d is usable" || fail "$d: $(finding "$c")"
		else
			finding "$c" | grep -qF "fix: sudo chmod 0666 $d" || fail "$d: $(finding "$c")"
		fi
	done
}

@test "doctor: a user without subordinate ids gets the line to add" {
	requires_ours "have a doctor"
	[ -n "${OCIRT_NOSUB_USER:-}" ] || skip "no user without subordinate ids (tests/setup-shim.sh)"
	command -v sudo >/dev/null || skip "sudo not installed: cannot act as $OCIRT_NOSUB_USER"
	sudo -n -u "$OCIRT_NOSUB_USER" test -x "$OCIRT" 2>/dev/null || skip "cannot run $OCIRT as $OCIRT_NOSUB_USER via sudo"
	run sudo -n -u "$OCIRT_NOSUB_USER" env XDG_RUNTIME_DIR="$OCIRT_NOSUB_XDG" HOME=/tmp PATH="$PATH" "$OCIRT" doctor
	finding subuid | grep -qE "^warn +subuid +$OCIRT_NOSUB_USER has no subordinate uids .*; fix: echo $OCIRT_NOSUB_USER:[0-9]+:65536 \| sudo tee -a /etc/subuid$" ||
		fail "subuid: $(finding subuid)"
	finding subgid | grep -qE "fix: echo $OCIRT_NOSUB_USER:[0-9]+:65536 \| sudo tee -a /etc/subgid$" ||
		fail "subgid: $(finding subgid)"
}
