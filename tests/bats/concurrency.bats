#!/usr/bin/env bats
# Concurrency: many containers at once, two runtimes on one container, and
# nothing leaked afterwards (no container or runtime process, an empty
# state root).

load helpers
load hostile-helpers

# lifecycle_script: a script doing create, start, state, delete --force of
# the container named by its argument (for xargs -P); it prints
# "ID ok" or "ID FAIL step: message".
lifecycle_script() {
	local s=$BATS_TEST_TMPDIR/lifecycle.sh
	cat >"$s" <<EOF
#!/bin/bash
id=\$1
rt() { timeout --kill-after=5 60 "$OCIRT" --root "$ROOT" "\$@"; }
# the container keeps create's stdio: files, not a pipe \$( ) would wait on
rt create --bundle "$BUNDLE" "\$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/\$id.err" ||
	{ echo "\$id FAIL create: \$(cat "$BATS_TEST_TMPDIR/\$id.err")"; exit 1; }
err=\$(rt start "\$id" 2>&1) || { echo "\$id FAIL start: \$err"; exit 1; }
st=\$(rt state "\$id" 2>&1 | jq -r .status) || { echo "\$id FAIL state: \$st"; exit 1; }
[ "\$st" = running ] || { echo "\$id FAIL status \$st"; exit 1; }
err=\$(rt delete --force "\$id" 2>&1) || { echo "\$id FAIL delete: \$err"; exit 1; }
echo "\$id ok"
EOF
	chmod 0755 "$s"
	echo "$s"
}

@test "concurrency: 50 containers created, started and deleted in parallel" {
	marker_args
	local script
	script=$(lifecycle_script)
	run timeout 300 bash -c "seq -f 'par%g' 1 50 | xargs -P 8 -n 1 '$script'"
	local oks
	oks=$(grep -c ' ok$' <<<"$output" || true)
	[ "$oks" -eq 50 ] || fail "$oks of 50 lifecycles succeeded: $(grep -v ' ok$' <<<"$output")"
	assert_nothing_left
}

@test "concurrency: list and state answer while containers come and go" {
	marker_args
	local script
	script=$(lifecycle_script)
	seq -f 'churn%g' 1 16 | xargs -P 4 -n 1 "$script" >"$BATS_TEST_TMPDIR/churn.out" 2>&1 &
	# not `i`: bats' run uses that name
	local churn=$! n
	for ((n = 0; n < 30; n++)); do
		run --separate-stderr runtime list -f json
		[ "$status" -eq 0 ] || fail "list failed during churn: $stderr"
		jq -e 'type == "array"' <<<"$output" >/dev/null || fail "list printed: $output"
	done
	wait "$churn" || fail "churn failed: $(cat "$BATS_TEST_TMPDIR/churn.out")"
	[ "$(grep -c ' ok$' "$BATS_TEST_TMPDIR/churn.out")" -eq 16 ] ||
		fail "churn: $(cat "$BATS_TEST_TMPDIR/churn.out")"
	assert_nothing_left
}

@test "concurrency: two creates of one id at once, exactly one wins" {
	marker_args
	local round a b sa sb
	for round in $(seq 1 10); do
		"$OCIRT" --root "$ROOT" create --bundle "$BUNDLE" same </dev/null \
			>/dev/null 2>"$BATS_TEST_TMPDIR/a.err" &
		a=$!
		"$OCIRT" --root "$ROOT" create --bundle "$BUNDLE" same </dev/null \
			>/dev/null 2>"$BATS_TEST_TMPDIR/b.err" &
		b=$!
		sa=0 sb=0
		wait "$a" || sa=$?
		wait "$b" || sb=$?
		if [ "$sa" -eq 0 ] && [ "$sb" -eq 1 ]; then
			grep -q 'container `same` already exists' "$BATS_TEST_TMPDIR/b.err" ||
				fail "round $round: loser says: $(cat "$BATS_TEST_TMPDIR/b.err")"
		elif [ "$sa" -eq 1 ] && [ "$sb" -eq 0 ]; then
			grep -q 'container `same` already exists' "$BATS_TEST_TMPDIR/a.err" ||
				fail "round $round: loser says: $(cat "$BATS_TEST_TMPDIR/a.err")"
		else
			fail "round $round: exit codes $sa and $sb: $(cat "$BATS_TEST_TMPDIR/a.err" "$BATS_TEST_TMPDIR/b.err")"
		fi
		# the winner's container is whole: created, its init alive
		run state_field same .status
		assert_output created
		pid_alive "$(state_field same .pid)" || fail "round $round: winner's init is not alive"
		[ "$(pids_matching "$MARKER" | wc -l)" -le 1 ] || fail "round $round: two inits"
		runtime delete --force same || fail "round $round: delete failed"
		assert_nothing_left
	done
}

@test "concurrency: state during a create waits for it or answers, never half-made" {
	marker_args
	# the create holds its container for about a second in a hook
	add_hook createRuntime "$(write_hook slow 'sleep 1')"
	"$OCIRT" --root "$ROOT" create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null \
		2>"$BATS_TEST_TMPDIR/create.err" &
	local creator=$! i st
	for ((i = 0; i < 100; i++)); do
		[ -e "$ROOT/$CID" ] && break
		sleep 0.01
	done
	[ -e "$ROOT/$CID" ] || fail "the container did not appear"
	elapsed_ms run --separate-stderr runtime state "$CID"
	[ "$status" -eq 0 ] || fail "state during create failed: $stderr"
	st=$(jq -r .status <<<"$output")
	[[ "$st" =~ ^(creating|created)$ ]] || fail "state during create said '$st'"
	[ "$ELAPSED_MS" -lt 15000 ] || fail "state took ${ELAPSED_MS} ms"
	run --separate-stderr runtime list -f json
	[ "$status" -eq 0 ] || fail "list during create failed: $stderr"
	wait "$creator" || fail "create failed: $(cat "$BATS_TEST_TMPDIR/create.err")"
	run state_field "$CID" .status
	assert_output created
	runtime delete --force "$CID"
	assert_nothing_left
}

@test "concurrency: delete --force racing start leaves a consistent state" {
	marker_args
	local round s d
	for round in $(seq 1 10); do
		runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 || fail "create failed"
		"$OCIRT" --root "$ROOT" start "$CID" >/dev/null 2>"$BATS_TEST_TMPDIR/start.err" &
		s=$!
		"$OCIRT" --root "$ROOT" delete --force "$CID" >/dev/null 2>"$BATS_TEST_TMPDIR/delete.err" &
		d=$!
		local ss=0 sd=0
		wait "$s" || ss=$?
		wait "$d" || sd=$?
		# neither crashed (a signal would show as > 128) nor hung
		[ "$ss" -le 1 ] || fail "round $round: start exited $ss: $(cat "$BATS_TEST_TMPDIR/start.err")"
		[ "$sd" -eq 0 ] || fail "round $round: delete --force exited $sd: $(cat "$BATS_TEST_TMPDIR/delete.err")"
		if [ "$ss" -ne 0 ]; then
			# start lost: the error says why in one line
			[ "$(grep -vc '^$' "$BATS_TEST_TMPDIR/start.err")" -eq 1 ] ||
				fail "round $round: start error: $(cat "$BATS_TEST_TMPDIR/start.err")"
		fi
		# delete --force ran last or first: either way nothing is left
		# but what a start after it could not have made
		run --separate-stderr runtime delete --force "$CID"
		[ "$status" -eq 0 ] || fail "round $round: final delete failed: $stderr"
		assert_nothing_left
	done
}

@test "concurrency: two delete --force of one container at once" {
	marker_args
	local round a b sa sb
	for round in $(seq 1 10); do
		runtime create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null 2>&1 || fail "create failed"
		runtime start "$CID" || fail "start failed"
		"$OCIRT" --root "$ROOT" delete --force "$CID" 2>"$BATS_TEST_TMPDIR/a.err" &
		a=$!
		"$OCIRT" --root "$ROOT" delete --force "$CID" 2>"$BATS_TEST_TMPDIR/b.err" &
		b=$!
		sa=0 sb=0
		wait "$a" || sa=$?
		wait "$b" || sb=$?
		[ "$sa" -eq 0 ] && [ "$sb" -eq 0 ] ||
			fail "round $round: exit codes $sa, $sb: $(cat "$BATS_TEST_TMPDIR/a.err" "$BATS_TEST_TMPDIR/b.err")"
		assert_nothing_left
	done
}

@test "concurrency: list and state never wait for a create stuck in a hook" {
	marker_args
	runtime run -d --bundle "$BUNDLE" other </dev/null >/dev/null 2>&1 || fail "run -d other failed"
	# the create of CID holds its lock until the test says go (bounded)
	add_hook createRuntime "$(write_hook stuck "echo ready >$BATS_TEST_TMPDIR/stuck.ready
for i in \$(seq 300); do [ -e $BATS_TEST_TMPDIR/go ] && exit 0; sleep 0.1; done")"
	"$OCIRT" --root "$ROOT" create --bundle "$BUNDLE" "$CID" </dev/null >/dev/null \
		2>"$BATS_TEST_TMPDIR/create.err" &
	local creator=$! st
	wait_for_file "$BATS_TEST_TMPDIR/stuck.ready" || fail "hook did not run: $(cat "$BATS_TEST_TMPDIR/create.err")"
	run --separate-stderr timeout 5 "$OCIRT" --root "$ROOT" list -f json
	[ "$status" -eq 0 ] || fail "list during a stuck create: status $status (124: it blocked): $stderr"
	st=$(jq -r --arg id "$CID" '.[] | select(.id == $id) | .status' <<<"$output")
	[ "$st" = creating ] || fail "list says the stuck container is '$st': $output"
	st=$(jq -r '.[] | select(.id == "other") | .status' <<<"$output")
	[ "$st" = running ] || fail "list says the other container is '$st': $output"
	run --separate-stderr timeout 5 "$OCIRT" --root "$ROOT" list
	[ "$status" -eq 0 ] || fail "list (table) during a stuck create: status $status: $stderr"
	run --separate-stderr timeout 5 "$OCIRT" --root "$ROOT" state other
	[ "$status" -eq 0 ] || fail "state of another container: status $status: $stderr"
	run --separate-stderr timeout 5 "$OCIRT" --root "$ROOT" state "$CID"
	[ "$status" -eq 0 ] || fail "state of the stuck container: status $status: $stderr"
	[ "$(jq -r .status <<<"$output")" = creating ] || fail "state says: $output"
	touch "$BATS_TEST_TMPDIR/go"
	wait "$creator" || fail "create failed: $(cat "$BATS_TEST_TMPDIR/create.err")"
	run state_field "$CID" .status
	assert_output created
	runtime delete --force "$CID"
	runtime delete --force other
	assert_nothing_left
}
