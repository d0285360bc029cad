#!/bin/sh
# run.sh BUILD SECONDS TARGET...: run each libFuzzer target of `make fuzz`
# for SECONDS on a scratch copy of its seed corpus (fuzz/corpus/TARGET, plus
# the regression inputs), with the dictionary fuzz/TARGET.dict when there is
# one. New crash inputs go to BUILD/artifacts/TARGET/. Exits non-zero if any
# target crashed, leaked, hung (-timeout) or ran out of memory.
set -u
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
failed=""
for t in "$@"; do
	bin=$build/fuzz-$t
	work=$build/corpus/$t
	art=$build/artifacts/$t
	mkdir -p "$work" "$art"
	dict=""
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	# A target with no regression input yet has no directory in git.
	regress=""
	[ -d "$here/regressions/$t" ] && regress="$here/regressions/$t"
	echo "== fuzz $t for ${seconds}s"
	# shellcheck disable=SC2086 # $dict and $regress are empty or one word
	if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 $dict -artifact_prefix="$art/" \
		"$work" "$here/corpus/$t" $regress >"$build/fuzz-$t.log" 2>&1; then
		failed="$failed $t"
		grep -E 'ERROR|runtime error|invariant failed|Test unit written' "$build/fuzz-$t.log" | head -n 20
		echo "== fuzz $t: FAILED (log: $build/fuzz-$t.log, inputs: $art/)"
	else
		grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/fuzz-$t.log" |
			tr '\n' ' '
		echo
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed"
	exit 1
fi
echo "fuzz: no crashes in $# targets"
