#!/usr/bin/env bash
# bench/measure.sh: the measurements, run as the unprivileged user under
# `benchtool reap` (a subreaper, so detached containers come back to us and
# anything left behind is reported). Started by bench/run.sh; reads
#   OCIRT_BENCH_WORK     a work dir owned by this user
#   OCIRT_BENCH_RUNTIME  ocirt-rootless binary
# and writes $OCIRT_BENCH_WORK/results/latest.{md,json}.
# Times are reported, never asserted on; a runtime that fails a step fails
# the run (ours) or is reported and left out (crun, runc).
# `rt NAME` prints "RUNTIME --root DIR", split on purpose (no spaces in either).
# shellcheck disable=SC2046
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

W=${OCIRT_BENCH_WORK:?run bench/run.sh}
OURS=${OCIRT_BENCH_RUNTIME:?run bench/run.sh}
TOOL=$W/bin/benchtool
OUT=$W/results
REC=$OUT/records.jsonl
NOTES=$OUT/notes.txt
leaks_tmpfs=0
HF=$OUT/hf
mkdir -p "$OUT" "$HF" "$W/state"
: >"$REC"
: >"$NOTES"

RUNS=${BENCH_RUNS:-100}
WARMUP=${BENCH_WARMUP:-5}
ROUNDS=${BENCH_ROUNDS:-5}
MANY=100
MANY_RUNS=5
RSS_RUNS=20
if [ -n "${BENCH_QUICK:-}" ]; then
	RUNS=10 WARMUP=1 MANY=20 MANY_RUNS=2 RSS_RUNS=3 ROUNDS=2
fi

note() { echo "$*" >>"$NOTES"; echo "bench: $*" >&2; }
step() { echo "bench: == $*" >&2; }

# ------------------------------------------------------------ the runtimes
declare -A RT_PATH=()
NAMES=()
for name in ${RUNTIMES:-ocirt-rootless crun runc}; do
	case $name in
	ocirt-rootless) p=$OURS ;;
	*) p=$(command -v "$name" || true) ;;
	esac
	if [ -z "$p" ]; then
		note "$name: not installed, left out"
		continue
	fi
	RT_PATH[$name]=$p
	NAMES+=("$name")
	mkdir -p "$W/state/$name"
done
rt() { echo "${RT_PATH[$1]} --root $W/state/$1"; }

step "bundle in $W"
bench_bundles "$W"

# Sanity: each runtime runs the check bundle and the container sees the
# map and hostname of the config. A runtime that cannot is left out.
KEEP_NAMES=()
for name in "${NAMES[@]}"; do
	out=$($(rt "$name") run --bundle "$W/b-check" sanity 2>"$OUT/sanity-$name.err") || true
	if [ "$out" != "$(printf 'uidmap=0:%s:1\nbench' "$(id -u)")" ]; then
		note "$name: sanity run failed, left out: $(tr '\n' ' ' <"$OUT/sanity-$name.err") $out"
		[ "$name" != ocirt-rootless ] || bench_die "ocirt-rootless fails the sanity run"
		$(rt "$name") delete -f sanity >/dev/null 2>&1 || true
		continue
	fi
	if [ -s "$OUT/sanity-$name.err" ]; then
		note "$name: prints on stderr for this config: $(sort -u "$OUT/sanity-$name.err" | tr '\n' ' ')"
	fi
	KEEP_NAMES+=("$name")
done
NAMES=("${KEEP_NAMES[@]}")

# ------------------------------------------------------------- recording
# record ID WHAT UNIT RUNTIME < numbers (one per line)
record() {
	jq -s -c --arg id "$1" --arg what "$2" --arg unit "$3" --arg rt "$4" '
		sort as $v | length as $n
		| ($v | add / $n) as $mean
		| {id: $id, what: $what, unit: $unit, runtime: $rt, n: $n,
		   median: (if $n % 2 == 1 then $v[($n - 1) / 2] else ($v[$n / 2 - 1] + $v[$n / 2]) / 2 end),
		   mean: $mean,
		   stddev: (if $n > 1 then ($v | map(. - $mean | . * .) | add / ($n - 1) | sqrt) else 0 end),
		   min: $v[0], max: $v[-1]}' >>"$REC"
}

# hf ID WHAT [-N] -w WARMUP -r RUNS -- NAME CMD [NAME CMD...]
# The runs are split into $ROUNDS rounds, each running every command in
# turn (the order reversed every other round), so a load that comes and
# goes during the benchmark (other work on a shared machine) falls on all
# runtimes alike instead of on whichever ran at that moment. "@ROUND@" in
# a command is replaced by the round number.
hf() {
	local id=$1 what=$2 shell=() warm=1 runs=10
	shift 2
	local -a cmds=() names=()
	while [ "$1" != -- ]; do
		case $1 in
		-N) shell=(-N) ;;
		-w) warm=$2; shift ;;
		-r) runs=$2; shift ;;
		*) bench_die "hf: unknown option $1" ;;
		esac
		shift
	done
	shift
	while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
	step "$what"
	local rounds=$ROUNDS r i per json
	[ "$rounds" -le "$runs" ] || rounds=$runs
	rm -f "$HF/$id".*.json
	for ((r = 1; r <= rounds; r++)); do
		per=$(((runs * r) / rounds - (runs * (r - 1)) / rounds))
		local -a args=()
		for ((i = 0; i < ${#names[@]}; i++)); do
			local k=$i
			[ $((r % 2)) -eq 1 ] || k=$((${#names[@]} - 1 - i))
			args+=(--command-name "${names[$k]}" "${cmds[$k]//@ROUND@/$r}")
		done
		json=$HF/$id.$r.json
		hyperfine "${shell[@]}" --style basic -w "$warm" -r "$per" --export-json "$json" "${args[@]}" \
			>"$HF/$id.$r.txt" 2>&1 || { cat "$HF/$id.$r.txt" >&2; bench_die "$what: a command failed"; }
	done
	local n
	for n in "${names[@]}"; do
		jq -r --arg n "$n" '.results[] | select(.command == $n) | .times[] | . * 1000' "$HF/$id".*.json |
			record "$id" "$what" ms "$n"
	done
}

# --------------------------------------------------------------- (0) floor
args=()
for n in "${NAMES[@]}"; do args+=("$n" "${RT_PATH[$n]} --version"); done
hf version "\`--version\` (exec + dynamic loading, no container)" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"

# ------------------------------------------------------------ (1) run true
args=()
for n in "${NAMES[@]}"; do args+=("$n" "$(rt "$n") run --bundle $W/b-true r1"); done
hf run "\`run\` /bin/true" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"

# (1b) the same with the state roots on tmpfs, where XDG_RUNTIME_DIR
# (/run/user/UID) lives on a host with a login manager. On this host the
# test user's XDG_RUNTIME_DIR is a directory in /tmp on the root fs.
SHM=
if [ -d /dev/shm ] && [ -w /dev/shm ] && SHM=$(mktemp -d /dev/shm/ocirt-bench.XXXXXX); then
	args=()
	for n in "${NAMES[@]}"; do
		args+=("$n" "${RT_PATH[$n]} --root $SHM/$n run --bundle $W/b-true r1")
	done
	hf run-tmpfs "\`run\` /bin/true, state root on tmpfs" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"
fi

# ------------------------------------------- (2) create+start+wait+delete
args=()
for n in "${NAMES[@]}"; do
	rm -f "$OUT/phases-$n".*.txt
	args+=("$n" "$TOOL lifecycle -o $OUT/phases-$n.@ROUND@.txt ${RT_PATH[$n]} $W/state/$n $W/b-true lc1")
done
hf lifecycle "create + start + wait + delete" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"
for n in "${NAMES[@]}"; do
	# Each round's file starts with its warm-up lines; columns:
	# create start wait delete total.
	for col in 1:create 2:start 3:wait 4:delete; do
		for f in "$OUT/phases-$n".*.txt; do
			tail -n +"$((WARMUP + 1))" "$f"
		done | awk -v c="${col%%:*}" '{print $c}' |
			record "phase-${col#*:}" "lifecycle phase: \`${col#*:}\`" ms "$n"
	done
done

if [ -n "$SHM" ]; then
	args=()
	for n in "${NAMES[@]}"; do
		args+=("$n" "$TOOL lifecycle ${RT_PATH[$n]} $SHM/$n $W/b-true lc2")
	done
	hf lifecycle-tmpfs "create + start + wait + delete, state root on tmpfs" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"
	for n in "${NAMES[@]}"; do
		if [ -n "$(ls -A "$SHM/$n" 2>/dev/null)" ]; then
			note "LEAK after the tmpfs runs: $n state root not empty: $(ls -A "$SHM/$n" | tr '\n' ' ')"
			leaks_tmpfs=1
		fi
	done
	rm -rf "$SHM"
fi

# ----------------------------------------------------------- (3) exec true
wait_running() {  # NAME ID
	local i
	for i in $(seq 100); do
		[ "$($(rt "$1") state "$2" 2>/dev/null | jq -r .status 2>/dev/null)" = running ] && return 0
		sleep 0.05
	done
	return 1
}
args=()
for n in "${NAMES[@]}"; do
	$(rt "$n") run -d --bundle "$W/b-sleep" xs </dev/null >/dev/null 2>&1 ||
		bench_die "$n: run -d of the sleep container failed"
	wait_running "$n" xs || bench_die "$n: sleep container not running"
	args+=("$n" "$(rt "$n") exec xs /bin/true")
done
hf exec "\`exec\` /bin/true into a running container" -N -w "$WARMUP" -r "$RUNS" -- "${args[@]}"

# (5b) peak RSS of exec while we have the container.
for n in "${NAMES[@]}"; do
	: >"$OUT/rss-exec-$n.txt"
	for i in $(seq "$RSS_RUNS"); do
		/usr/bin/time -a -o "$OUT/rss-exec-$n.txt" -f %M $(rt "$n") exec xs /bin/true >/dev/null 2>&1
	done
	record rss-exec "peak RSS of \`exec\`" KiB "$n" <"$OUT/rss-exec-$n.txt"
	$(rt "$n") delete -f xs >/dev/null 2>&1 || bench_die "$n: delete -f of the sleep container failed"
done

# ------------------------------------------------- (4) 100 in a row, 2 at a time
mounts_before=$(awk '{$1=$2=""; print}' /proc/self/mountinfo | sort)
args=()
for n in "${NAMES[@]}"; do
	args+=("$n" "for i in \$(seq $MANY); do $(rt "$n") run --bundle $W/b-true s\$i || exit 1; done")
done
hf many-seq "$MANY containers one after another (total)" -w 1 -r "$MANY_RUNS" -- "${args[@]}"
args=()
for n in "${NAMES[@]}"; do
	args+=("$n" "seq $MANY | xargs -P2 -I{} $(rt "$n") run --bundle $W/b-true p{}")
done
hf many-par "$MANY containers, 2 at a time (xargs -P2, total)" -w 1 -r "$MANY_RUNS" -- "${args[@]}"

# Leak check: no state left in any runtime's root, no new mount, and no
# process left under our subreaper (benchtool reap, our parent): every
# orphan of the benchmark -- a container's init, a stranded runtime or
# helper -- lands there. Other users of this uid (a test suite running at
# the same time) are not ours and are not looked at.
leaks=${leaks_tmpfs:-0}
REAPER=$PPID
leaked_pids() {
	ps -e -o pid=,ppid= | awk -v root="$REAPER" -v me="$$" '
		{ par[$1] = $2 }
		END {
			for (p in par) {
				if (p == root || p == me) continue
				q = p; under = 0
				while (q in par && q > 1) {
					if (q == me) break
					if (par[q] == root) { under = 1; break }
					q = par[q]
				}
				if (under) print p
			}
		}'
}
leak_check() {
	local what=$1 p n found=0
	for n in "${NAMES[@]}"; do
		if [ -n "$(ls -A "$W/state/$n")" ]; then
			note "LEAK after $what: $n state root not empty: $(ls -A "$W/state/$n" | head -5 | tr '\n' ' ')"
			found=1
		fi
	done
	for p in $(leaked_pids); do
		note "LEAK after $what: process $p ($(ps -o stat=,args= -p "$p" 2>/dev/null || echo gone)) left under the benchmark's subreaper"
		found=1
	done
	# A rootless runtime cannot mount in our mount namespace; whatever
	# changed there under the benchmark's paths is a leak, the rest is
	# other work on the machine (noted, not counted).
	local changed ours_changed
	changed=$(diff <(echo "$mounts_before") <(awk '{$1=$2=""; print}' /proc/self/mountinfo | sort) |
		grep '^[<>]' || true)
	if [ -n "$changed" ]; then
		ours_changed=$(grep -F -e "$W" -e "/dev/shm/ocirt-bench" <<<"$changed" || true)
		if [ -n "$ours_changed" ]; then
			note "LEAK after $what: mounts under the benchmark's paths changed: $(tr -s ' ' <<<"$ours_changed" | head -5 | tr '\n' ';')"
			found=1
		else
			note "after $what: the host mount table changed outside the benchmark's paths (other work on this machine, not counted): $(tr -s ' ' <<<"$changed" | cut -c1-120 | head -3 | tr '\n' ';')"
		fi
	fi
	[ $found -eq 0 ] || leaks=$((leaks + 1))
	return 0
}
# BENCH_INJECT_LEAK=1 leaves one detached container behind on purpose: the
# check must then report it (state and process) and the run must fail.
if [ -n "${BENCH_INJECT_LEAK:-}" ]; then
	$(rt "${NAMES[0]}") run -d --bundle "$W/b-sleep" injected-leak </dev/null >/dev/null 2>&1
fi
leak_check "the $MANY-container runs"
[ $leaks -gt 0 ] || note "leak check after $((2 * (MANY_RUNS + 1) * MANY)) containers per runtime: no state left, no process left under the benchmark's subreaper, mount table unchanged"

# --------------------------------------------------------- (5) peak RSS
step "peak RSS"
for n in "${NAMES[@]}"; do
	: >"$OUT/rss-run-$n.txt"
	: >"$OUT/rss-create-$n.txt"
	for i in $(seq "$RSS_RUNS"); do
		/usr/bin/time -a -o "$OUT/rss-run-$n.txt" -f %M $(rt "$n") run --bundle "$W/b-true" m1
		/usr/bin/time -a -o "$OUT/rss-create-$n.txt" -f %M $(rt "$n") create --bundle "$W/b-true" m2 \
			</dev/null >/dev/null 2>&1
		$(rt "$n") delete -f m2 >/dev/null 2>&1
	done 2>/dev/null
	record rss-run "peak RSS of \`run\` (incl. waited children)" KiB "$n" <"$OUT/rss-run-$n.txt"
	record rss-create "peak RSS of \`create\`" KiB "$n" <"$OUT/rss-create-$n.txt"
done

# ------------------------------------------------- (6) size and libraries
step "binary size and shared libraries"
LIBS_JSON=$OUT/libs.json
echo '{}' >"$LIBS_JSON"
for n in "${NAMES[@]}"; do
	p=${RT_PATH[$n]}
	size=$(stat -L -c %s "$p")
	stripped=$size
	if command -v strip >/dev/null; then
		strip -o "$OUT/stripped-$n" "$p" 2>/dev/null && stripped=$(stat -c %s "$OUT/stripped-$n")
		rm -f "$OUT/stripped-$n"
	fi
	ldd_libs=$(ldd "$p" 2>/dev/null | awk '/=>/ {print $1}' | sort | tr '\n' ' ' || true)
	# Libraries really mapped by a live `run` (it stays while the container runs).
	$(rt "$n") run --bundle "$W/b-sleep" lp </dev/null >/dev/null 2>&1 &
	rpid=$!
	wait_running "$n" lp || bench_die "$n: run of the sleep container did not start"
	mapped=$(awk '$6 ~ /\.so/ {print $6}' "/proc/$rpid/maps" | sort -u | xargs -rn1 basename | tr '\n' ' ')
	nfiles=$(awk '$6 ~ /^\// {print $6}' "/proc/$rpid/maps" | sort -u | wc -l)
	$(rt "$n") kill lp KILL >/dev/null 2>&1 || true
	wait $rpid || true
	$(rt "$n") delete -f lp >/dev/null 2>&1 || true
	jq --arg n "$n" --argjson size "$size" --argjson stripped "$stripped" --arg ldd "$ldd_libs" \
		--arg mapped "$mapped" --argjson nfiles "$nfiles" \
		'.[$n] = {size: $size, stripped: $stripped, ldd: ($ldd | split(" ") | map(select(. != ""))),
			  mapped: ($mapped | split(" ") | map(select(. != ""))), mapped_files: $nfiles}' \
		"$LIBS_JSON" >"$LIBS_JSON.tmp" && mv "$LIBS_JSON.tmp" "$LIBS_JSON"
done

# ------------------------------------- (7) no user namespace in the config
if [[ " ${NAMES[*]} " == *" ocirt-rootless "* ]]; then
	out=$($(rt ocirt-rootless) run --bundle "$W/b-nouserns" nu-check 2>&1) ||
		bench_die "ocirt-rootless: run without a user namespace in the config failed: $out"
	hf run-nouserns "\`run\` /bin/true, config without user namespace (subuid map via newuidmap/newgidmap)" \
		-N -w "$WARMUP" -r "$RUNS" -- ocirt-rootless "$(rt ocirt-rootless) run --bundle $W/b-nouserns nu"
fi

leak_check "all measurements"

# ------------------------------------------------------------------ report
step "report"
versions='{}'
for n in "${NAMES[@]}"; do
	v=$(${RT_PATH[$n]} --version 2>/dev/null | head -1)
	versions=$(jq -c --arg n "$n" --arg v "$v" '.[$n] = $v' <<<"$versions")
done
jq -s --slurpfile libs "$LIBS_JSON" --argjson versions "$versions" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
	--arg cpus "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
	--arg runs "$RUNS" --arg warmup "$WARMUP" --arg leaks "$leaks" \
	--arg rev "${OCIRT_BENCH_REV:-unknown}" --arg many "$MANY" --arg many_runs "$MANY_RUNS" --arg rounds "$ROUNDS" \
	--rawfile notes "$NOTES" '
	{meta: {date: $date, kernel: $kernel, cpus: ($cpus | tonumber), cpu: $cpu, loadavg: $load,
		runs: ($runs | tonumber), warmup: ($warmup | tonumber), many: ($many | tonumber),
		many_runs: ($many_runs | tonumber), rounds: ($rounds | tonumber), ocirt_rev: $rev, versions: $versions},
	 results: (. as $all | (map(.id) | reduce .[] as $i ([]; if any(.[]; . == $i) then . else . + [$i] end))
		| map(. as $i | $all | map(select(.id == $i))) | map({id: .[0].id, what: .[0].what, unit: .[0].unit,
		runtimes: (map({key: .runtime, value: (del(.id, .what, .unit, .runtime))}) | from_entries)}
		| . + {ratio_to_crun: (if .runtimes.crun then
			(.runtimes.crun.median as $c | .runtimes | map_values(.median / $c)) else null end)})),
	 binaries: $libs[0],
	 leak_checks_failed: ($leaks | tonumber),
	 notes: ($notes | split("\n") | map(select(. != "")))}' "$REC" >"$OUT/latest.json"

"$here/report.sh" "$OUT/latest.json" >"$OUT/latest.md"
cat "$OUT/latest.md"
[ "$leaks" -eq 0 ] || bench_die "leak check failed (see notes above)"
