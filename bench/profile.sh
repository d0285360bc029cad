#!/usr/bin/env bash
# bench/profile.sh: where the start-up time goes, as the unprivileged user
# (started by `bench/run.sh --profile`, under `benchtool reap`). Writes raw
# outputs and summary.md into $OCIRT_BENCH_WORK/results/profile/; the
# conclusions are in bench/FINDINGS.md. Nothing here asserts on time.
#
#   strace -c -f and strace -f -tt (process, mount, openat) of one `run`
#   processes spawned per container (clone/fork without CLONE_THREAD, execve)
#   perf stat (software counters; this VM has no PMU) of `run`
#   callgrind instruction counts per ELF object: --version, state, create
#   LD_DEBUG=statistics of --version
#   microbenchmarks (bench/tools/micro.c) of candidate steps
#   config and state-root variants of `run`
# `rt NAME` prints "RUNTIME --root DIR", split on purpose (no spaces in either).
# shellcheck disable=SC2046
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

W=${OCIRT_BENCH_WORK:?run bench/run.sh --profile}
OURS=${OCIRT_BENCH_RUNTIME:?run bench/run.sh --profile}
P=$W/results/profile
S=$P/summary.md
mkdir -p "$P" "$W/pstate"
: >"$S"
RUNS=${BENCH_RUNS:-100}
[ -z "${BENCH_QUICK:-}" ] || RUNS=10

say() { echo "$*" >>"$S"; }
step() { echo "bench: profile: $*" >&2; }

declare -A RT_PATH=([ocirt-rootless]=$OURS)
NAMES=(ocirt-rootless)
for n in crun runc; do
	if p=$(command -v "$n"); then RT_PATH[$n]=$p; NAMES+=("$n"); fi
done
rt() { echo "${RT_PATH[$1]} --root $W/pstate/$1"; }
for n in "${NAMES[@]}"; do mkdir -p "$W/pstate/$n"; done

[ -d "$W/rootfs" ] || bench_bundles "$W"
# Variants: terminal true without a console socket (ours stops right after
# parsing config.json: exec + parse, nothing else), and only /proc mounted
# (no /dev, /sys, masks: how much of `run` is the mount work).
mkdir -p "$W/b-parse" "$W/b-fewmounts"
jq '.process.terminal = true' "$W/b-true/config.json" >"$W/b-parse/config.json"
jq '.mounts = [.mounts[0]] | del(.linux.maskedPaths, .linux.readonlyPaths)' "$W/b-true/config.json" \
	>"$W/b-fewmounts/config.json"

say "# Profile of the start-up path ($(date -u +%Y-%m-%dT%H:%M:%SZ), kernel $(uname -r), $(nproc) CPUs)"
say

# ---------------------------------------------------------------- strace
step "strace"
say "## Syscalls and processes of one \`run\` and one \`exec\` of /bin/true (strace -f)"
say
say "| runtime | syscalls | failed | processes created | execve | mount | openat+openat2 | top syscalls by count |"
say "|---|---:|---:|---:|---:|---:|---:|---|"
for n in "${NAMES[@]}"; do
	$(rt "$n") run -d --bundle "$W/b-sleep" ex </dev/null >/dev/null 2>&1
	sleep 0.3
	for verb in run exec; do
	if [ $verb = run ]; then
		cmd_c="$(rt "$n") run --bundle $W/b-true sc"
		cmd_t="$(rt "$n") run --bundle $W/b-true st"
		f=$n
	else
		cmd_c="$(rt "$n") exec ex /bin/true"
		cmd_t=$cmd_c
		f=$n-exec
	fi
	strace -f -c -o "$P/strace-c-$f.txt" $cmd_c >/dev/null 2>&1
	strace -f -tt -o "$P/strace-tt-$f.txt" \
		-e trace=process,execve,clone,clone3,wait4,mount,pivot_root,openat,openat2,setns \
		$cmd_t >/dev/null 2>&1
	calls=$(awk '$NF == "total" {print $4}' "$P/strace-c-$f.txt")
	errors=$(awk '$NF == "total" {print (NF == 6 ? $5 : 0)}' "$P/strace-c-$f.txt")
	# New processes: clone/clone3/fork/vfork calls without CLONE_THREAD that
	# did not fail ("resumed" lines continue a call already counted).
	procs=$(grep -E '^[0-9]+ +[0-9:.]+ (clone|clone3|fork|vfork)\(' "$P/strace-tt-$f.txt" |
		grep -v CLONE_THREAD | grep -vc '= -1 ')
	execs=$(grep -cE ' execve\(.*= 0$|<\.\.\. execve resumed>.*= 0$' "$P/strace-tt-$f.txt")
	mounts=$(awk '$NF == "mount" {print $4}' "$P/strace-c-$f.txt")
	opens=$(awk '$NF == "openat" || $NF == "openat2" {s += $4} END {print s + 0}' "$P/strace-c-$f.txt")
	top=$(awk 'NR > 2 && $NF != "total" && $NF !~ /^-/ && NF >= 5 {print $4, $NF}' "$P/strace-c-$f.txt" |
		sort -rn | head -6 | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
	say "| $n \`$verb\` | $calls | $errors | $procs | $execs | ${mounts:-0} | $opens | $top |"
	done
	$(rt "$n") delete -f sc >/dev/null 2>&1
	$(rt "$n") delete -f st >/dev/null 2>&1
	$(rt "$n") delete -f ex >/dev/null 2>&1
done
say
say "Processes created counts clone/clone3/fork/vfork without CLONE_THREAD (Go threads are not processes); the runtime's own exec is in execve. strace makes setuid helpers fail, so the configuration without a user namespace (newuidmap/newgidmap) is traced by perf trace as root (timeline-*.txt, when run as root)."
say

# ------------------------------------------------------------- perf stat
if perf stat -e task-clock true >/dev/null 2>&1; then
	step "perf stat"
	say "## perf stat of \`run\` (30 runs; software counters: no PMU in this VM)"
	say
	say "| runtime | task-clock ms (all processes) | elapsed ms | CPUs utilized | page faults |"
	say "|---|---:|---:|---:|---:|"
	for n in "${NAMES[@]}"; do
		perf stat -x, -r 30 -o "$P/perf-stat-$n.txt" -e task-clock,page-faults \
			$(rt "$n") run --bundle "$W/b-true" ps >/dev/null 2>&1
		perf stat -r 30 -o "$P/perf-stat-$n.human.txt" -e task-clock,page-faults \
			$(rt "$n") run --bundle "$W/b-true" ps >/dev/null 2>&1
		tc=$(awk -F, '$3 ~ /task-clock/ {print $1}' "$P/perf-stat-$n.txt")
		pf=$(awk -F, '$3 ~ /page-faults/ {print $1}' "$P/perf-stat-$n.txt")
		el=$(awk '/seconds time elapsed/ {printf "%.2f", $1 * 1000}' "$P/perf-stat-$n.human.txt")
		ut=$(awk -v t="$tc" -v e="$el" 'BEGIN {if (e > 0) printf "%.2f", t / e}')
		say "| $n | $(printf '%.2f' "$tc") | $el | $ut | $pf |"
	done
	say
fi

# ------------------------------------------------------------- callgrind
# Self cost per ELF object from a callgrind out file (first event, Ir).
cg_objects() {
	awk '
	function name(s,   id, rest) {
		if (match(s, /^\([0-9]+\)/)) {
			id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 2)
			if (rest != "") obn[id] = rest
			return obn[id]
		}
		return s
	}
	/^ob=/ { ob = name(substr($0, 4)); next }
	/^cob=/ { name(substr($0, 5)); next }
	/^calls=/ { skip = 1; next }
	/^[0-9+*-]/ { if (skip) { skip = 0; next }; cost[ob == "" ? "?" : ob] += $2; total += $2; next }
	END { for (o in cost) printf "%d %s\n", cost[o], o; print total, "TOTAL" }' "$1" | sort -rn
}
if command -v valgrind >/dev/null; then
	step "callgrind"
	say "## callgrind: instructions (Ir) per ELF object"
	say
	say "valgrind 3.19 does not know openat2 (syscall 437), so under valgrind our container init fails at its first mount; the \`create\` row counts the runtime parent only, up to that point (spec parse, id map, state dir, fork, maps, state write). The init is a separate process and its file is listed apart."
	say
	say "| command | total Ir | ld.so | libc | libjansson | other libs | runtime binary |"
	say "|---|---:|---:|---:|---:|---:|---:|"
	$(rt ocirt-rootless) create --bundle "$W/b-true" cgs >/dev/null 2>&1
	cg_run() {  # LABEL CMD...
		local label=$1 f
		shift
		rm -f "$P"/cg-"$label".*
		valgrind --tool=callgrind --callgrind-out-file="$P/cg-$label.%p" "$@" >/dev/null 2>"$P/cg-$label.log"
		for f in "$P"/cg-"$label".[0-9]*; do
			[ -f "$f" ] || continue
			case $f in *.objects) continue ;; esac
			cg_objects "$f" >"$f.objects"
			# pid 1: the container init, in its own pid namespace; under
			# valgrind it fails before doing anything worth counting.
			[ "${f##*.}" != 1 ] || continue
			awk -v label="$label ($(head -c 300 "$f" | awk '/^cmd:/ {$1 = ""; print substr($0, 2)}' | cut -c1-60)…, pid ${f##*.})" '
				$2 == "TOTAL" {t = $1; next}
				$2 ~ /ld-linux/ {ld += $1; next}
				$2 ~ /libc\.so/ {c += $1; next}
				$2 ~ /libjansson/ {j += $1; next}
				$2 ~ /ocirt-rootless$|\/crun$|\/runc$/ {b += $1; next}
				{o += $1}
				END {printf "| %s | %d | %d | %d | %d | %d | %d |\n", label, t, ld, c, j, o, b}' "$f.objects" >>"$S"
		done
	}
	cg_run ours-version "${RT_PATH[ocirt-rootless]}" --version
	cg_run ours-state $(rt ocirt-rootless) state cgs
	$(rt ocirt-rootless) delete -f cgs >/dev/null 2>&1
	cg_run ours-create $(rt ocirt-rootless) create --bundle "$W/b-true" cgc
	$(rt ocirt-rootless) delete -f cgc >/dev/null 2>&1
	if [ -n "${RT_PATH[crun]:-}" ]; then
		cg_run crun-version "${RT_PATH[crun]}" --version
	fi
	say
	say "Of the two \`create\` rows the larger pid is stage1, forked from the runtime: its count includes everything the runtime did before the fork (config parse, id-map plan, state dir); the runtime's own row adds what follows."
	say
	callgrind_annotate --inclusive=yes "$(ls "$P"/cg-ours-create.[0-9]* | head -1)" 2>/dev/null |
		head -80 >"$P/cg-ours-create.inclusive.txt" || true
fi

# ------------------------------------------------------ dynamic loader
step "LD_DEBUG=statistics"
say "## Dynamic loader (LD_DEBUG=statistics of \`--version\`)"
say
say "| runtime | cycles in ld.so at start-up | relocations | relative relocations | objects loaded (ldd) |"
say "|---|---:|---:|---:|---:|"
for n in "${NAMES[@]}"; do
	LD_DEBUG=statistics "${RT_PATH[$n]}" --version >/dev/null 2>"$P/ld-stats-$n.txt"
	cyc=$(awk -F: '/total startup time in dynamic loader/ {gsub(/[^0-9]/, "", $3); print $3; exit}' "$P/ld-stats-$n.txt")
	rel=$(awk -F: '/number of relocations:/ {gsub(/[^0-9]/, "", $3); print $3; exit}' "$P/ld-stats-$n.txt")
	rrel=$(awk -F: '/number of relative relocations/ {gsub(/[^0-9]/, "", $3); print $3; exit}' "$P/ld-stats-$n.txt")
	libs=$(ldd "${RT_PATH[$n]}" 2>/dev/null | grep -c '=>')
	say "| $n | ${cyc:-–} | ${rel:-–} | ${rrel:-–} | $libs |"
done
say
say "crun re-executes itself from a memfd copy (CVE-2019-5736), so it goes through the loader twice; the row shows the first pass only."
say

# -------------------------------------------------------- microbenchmarks
step "microbenchmarks"
M=$W/micro
mkdir -p "$M"
cc -O2 -o "$M/micro-libc" "$here/tools/micro.c"
cc -O2 -o "$M/micro-libs" "$here/tools/micro.c" -Wl,--no-as-needed -ljansson -lseccomp -lcap -Wl,--as-needed
cc -O2 -static -o "$M/micro-static" "$here/tools/micro.c" 2>/dev/null || rm -f "$M/micro-static"
args=(--command-name "static nop (no loader)" "$M/micro-static nop")
[ -x "$M/micro-static" ] || args=()
args+=(--command-name "libc-only nop" "$M/micro-libc nop"
	--command-name "nop + jansson, seccomp, cap loaded" "$M/micro-libs nop"
	--command-name "ocirt-rootless --version" "${RT_PATH[ocirt-rootless]} --version"
	--command-name "ocirt-rootless create, stops after parsing config.json" "$(rt ocirt-rootless) create --bundle $W/b-parse px"
	--command-name "getpwuid once" "$M/micro-libc getpwuid"
	--command-name "localtime once" "$M/micro-libc localtime"
	--command-name "fork + exit + wait" "$M/micro-libc fork"
	--command-name "newuidmap exec (usage error)" "/usr/bin/newuidmap")
[ -z "${RT_PATH[crun]:-}" ] || args+=(--command-name "crun --version" "${RT_PATH[crun]} --version")
hyperfine -N -i --style basic -w 10 -r "$((3 * RUNS))" --export-json "$P/micro.json" "${args[@]}" >"$P/micro.txt" 2>&1
say "## One-shot costs (hyperfine -N, $((3 * RUNS)) runs, fresh process each; compare with the nop rows)"
say
say "| what | median ms | min ms |"
say "|---|---:|---:|"
jq -r '.results[] | "| \(.command) | \(.median * 1000 * 1000 | round / 1000) | \(.min * 1000 * 1000 | round / 1000) |"' \
	"$P/micro.json" >>"$S"
say
say "## Per-operation costs in a warm process (ns per op)"
say
say "| operation | ns |"
say "|---|---:|"
loop() { local label=$1; shift; printf '| %s | %s |\n' "$label" "$("$M/micro-libc" loop "$@" | awk '{print $2}')" >>"$S"; }
loop "getppid (syscall floor)" syscall 200000
loop "prctl(PR_CAPBSET_READ)" capbset 200000
loop "state file: open, write 300 B, close, rename; in the test user's XDG_RUNTIME_DIR ($(stat -f -c %T "${XDG_RUNTIME_DIR:-/tmp}"))" statewrite 2000 "${XDG_RUNTIME_DIR:-/tmp}"
loop "same, target unlinked first (a new name, no replace)" statenew 2000 "${XDG_RUNTIME_DIR:-/tmp}"
loop "same file rewritten in place (pwrite + ftruncate)" stateinplace 2000 "${XDG_RUNTIME_DIR:-/tmp}"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	mkdir -p "/dev/shm/ocirt-bench-$(id -u)"
	loop "same on tmpfs (/dev/shm)" statewrite 2000 "/dev/shm/ocirt-bench-$(id -u)"
fi
loop "mknodat in a user namespace (always EPERM)" mknod 20000
loop "openat2(RESOLVE_IN_ROOT) of a 2-level path + close" openat2 20000 "$W/rootfs" bin/true
loop "message + answer between two processes (socketpair)" pipe 20000
say

# ----------------------------------------------------- run variants
step "run variants"
args=(--command-name "ours, state root on $(stat -f -c %T "$W/pstate") ($W)" "$(rt ocirt-rootless) run --bundle $W/b-true v1")
if [ -d "/dev/shm/ocirt-bench-$(id -u)" ]; then
	args+=(--command-name "ours, state root on tmpfs (/dev/shm)"
		"${RT_PATH[ocirt-rootless]} --root /dev/shm/ocirt-bench-$(id -u)/state run --bundle $W/b-true v2")
fi
args+=(--command-name "ours, only /proc mounted, no masks" "$(rt ocirt-rootless) run --bundle $W/b-fewmounts v3"
	--command-name "ours, no user namespace in config (newuidmap + newgidmap)" "$(rt ocirt-rootless) run --bundle $W/b-nouserns v4")
if [ -n "${RT_PATH[crun]:-}" ]; then
	[ ! -d "/dev/shm/ocirt-bench-$(id -u)" ] || args+=(--command-name "crun, state root on tmpfs (/dev/shm)"
		"${RT_PATH[crun]} --root /dev/shm/ocirt-bench-$(id -u)/crun run --bundle $W/b-true v7")
	args+=(--command-name "crun" "$(rt crun) run --bundle $W/b-true v5"
		--command-name "crun, only /proc mounted, no masks" "$(rt crun) run --bundle $W/b-fewmounts v6")
fi
hyperfine -N --style basic -w 5 -r "$RUNS" --export-json "$P/variants.json" "${args[@]}" >"$P/variants.txt" 2>&1 ||
	{ cat "$P/variants.txt" >&2; }
say "## \`run\` variants (hyperfine -N, $RUNS runs)"
say
say "| variant | median ms | stddev |"
say "|---|---:|---:|"
jq -r '.results[] | "| \(.command) | \(.median * 1000 * 100 | round / 100) | \(.stddev * 1000 * 100 | round / 100) |"' \
	"$P/variants.json" >>"$S"
say
rm -rf "/dev/shm/ocirt-bench-$(id -u)"

cat "$S"
