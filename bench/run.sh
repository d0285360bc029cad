#!/usr/bin/env bash
# bench/run.sh [--profile]: start-up benchmark of ocirt-rootless against
# crun and runc (when installed), rootless, same bundle, same run; then the
# network benchmark (bench/net.sh: the built-in slirp network against
# slirp4netns and pasta, side by side, as ratios).
#
# As root: sets up the unprivileged test user (scripts/testuser.sh when
# present, else useradd + /etc/subuid,subgid NAME:200000:65536), binds
# hugetlb to cgroup v1 on a hybrid host so crun runs (HOST-NOTES), copies
# the runtime and bench/ into a temp dir owned by that user, and runs every
# measurement as that user. As an unprivileged user: measures directly.
#
# Writes bench/results/latest.md and latest.json and prints the table; the
# network table goes to bench/results/net.txt. A missing network helper,
# iperf3 or python3 skips the network part with the reason printed; a
# missing slirp4netns or pasta leaves that column out.
# With --profile also runs bench/profile.sh (strace, perf stat, callgrind,
# LD_DEBUG) and writes bench/results/profile/.
#
# Environment:
#   OCIRT          runtime under test (default: $BUILD or build, /ocirt-rootless)
#   RUNTIMES       which to compare (default: "ocirt-rootless crun runc")
#   BENCH_RUNS     hyperfine runs per single-container measurement (default 100)
#   BENCH_WARMUP   hyperfine warm-up runs per round (default 5)
#   BENCH_RESULTS  where latest.{md,json} go (default bench/results)
#   BENCH_ROUNDS   split the runs into rounds that alternate the runtimes
#                  (default 5), so a passing load hits all of them alike
#   BENCH_QUICK=1  a smoke run: few runs, 20 containers instead of 100
#   BENCH_USER     test user (default ocirt-test)
#   BENCH_REV      what the runtime was built from, for the report
#                  (default: this tree's commit when OCIRT is built in it)
#   BENCH_INJECT_LEAK=1  leave a container behind on purpose: the leak
#                  check must report it and the run must fail
#   BENCH_NET=0    skip the network part (bench/net.sh's own settings,
#                  OCIRT_NET_*, pass through; BENCH_QUICK shortens it)
#   OCIRT_NET_HELPER  network helper (default: next to the runtime)
#   KEEP=1         keep the work dir
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/lib.sh"

profile=
case "${1:-}" in
--profile) profile=1 ;;
"") ;;
-h | --help) sed -n '2,33s/^# \{0,1\}//p' "$0"; exit 0 ;;
*) bench_die "usage: bench/run.sh [--profile]" ;;
esac

OCIRT=${OCIRT:-$top/${BUILD:-build}/ocirt-rootless}
case $OCIRT in /*) ;; *) OCIRT=$PWD/$OCIRT ;; esac
[ -x "$OCIRT" ] || bench_die "runtime $OCIRT not found; run make first (or set OCIRT)"
for t in hyperfine jq cc /usr/bin/time; do
	command -v "$t" >/dev/null || bench_die "$t not found (apt-get install hyperfine jq gcc time)"
done

results=${BENCH_RESULTS:-$top/bench/results}
if ! mkdir -p "$results" 2>/dev/null || [ ! -w "$results" ]; then
	results=${TMPDIR:-/tmp}/ocirt-bench-results-$(id -u)
	mkdir -p "$results"
	bench_note "bench/results is not writable; results go to $results"
fi

# What was measured: BENCH_REV when given (say, a build of an exported
# commit), else the commit of this tree when the runtime was built in it.
rev=${BENCH_REV:-}
if [ -z "$rev" ] && [[ $OCIRT == "$top"/* ]] && git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	rev=$(git -C "$top" rev-parse --short HEAD)
	[ -z "$(git -C "$top" status --porcelain -- src Makefile 2>/dev/null)" ] || rev="$rev + uncommitted changes in src/"
fi
export OCIRT_BENCH_REV=${rev:-unknown}

# The network part: bench/net.sh (as root it runs itself as the test user),
# after the start-up part so the two do not load each other.
net_bench() {
	local helper=${OCIRT_NET_HELPER:-$(dirname "$OCIRT")/ocirt-rootless-net} t
	if [ "${BENCH_NET:-1}" = 0 ]; then
		bench_note "network benchmark skipped: BENCH_NET=0"
		return 0
	fi
	if [ ! -x "$helper" ]; then
		bench_note "network benchmark skipped: no network helper at $helper (make builds it; or set OCIRT_NET_HELPER)"
		return 0
	fi
	for t in iperf3 python3; do
		if ! command -v "$t" >/dev/null; then
			bench_note "network benchmark skipped: $t not found (apt-get install $t)"
			return 0
		fi
	done
	if [ -n "${BENCH_QUICK:-}" ]; then
		export OCIRT_NET_SECONDS=${OCIRT_NET_SECONDS:-2} OCIRT_NET_REPEAT=${OCIRT_NET_REPEAT:-1}
		export OCIRT_NET_CONNS=${OCIRT_NET_CONNS:-50}
	fi
	echo "# network benchmark: bench/net.sh" >&2
	OCIRT=$OCIRT OCIRT_NET_HELPER=$helper "$here/net.sh" | tee "$results/net.txt"
	return "${PIPESTATUS[0]}"
}

# Build the C helper (subreaper, create/start/wait/delete driver).
build_tool() {
	cc -O2 -Wall -Wextra -Werror -o "$1/benchtool" "$here/tools/benchtool.c"
}

if [ "$(id -u)" -ne 0 ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/ocirt-bench.XXXXXX")
	[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/bin" "$work/results"
	build_tool "$work/bin"
	rc=0
	OCIRT_BENCH_WORK=$work OCIRT_BENCH_RUNTIME=$OCIRT \
		"$work/bin/benchtool" reap "$here/measure.sh" || rc=$?
	cp "$work/results/latest.md" "$work/results/latest.json" "$results/" 2>/dev/null || true
	[ $rc -eq 0 ] || exit $rc
	if [ -n "$profile" ]; then
		OCIRT_BENCH_WORK=$work OCIRT_BENCH_RUNTIME=$OCIRT \
			"$work/bin/benchtool" reap "$here/profile.sh"
		rm -rf "$results/profile" && cp -r "$work/results/profile" "$results/"
	fi
	net_bench
	exit $?
fi

# ------------------------------------------------------------------ as root
user=${BENCH_USER:-ocirt-test}
if [ -f "$top/scripts/testuser.sh" ]; then
	# shellcheck source=/dev/null
	. "$top/scripts/testuser.sh"
	OCIRT_TEST_USER=$user ocirt_testuser_setup >/dev/null
else
	(
		exec 9>/run/lock/ocirt-testuser.lock 2>/dev/null || exec 9>/tmp/ocirt-testuser.lock
		flock 9
		getent passwd "$user" >/dev/null || useradd -m -s /bin/bash "$user"
		for f in /etc/subuid /etc/subgid; do
			[ -e "$f" ] || install -m 0644 /dev/null "$f"
			grep -q "^$user:" "$f" || echo "$user:200000:65536" >>"$f"
		done
	)
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
uhome=$(getent passwd "$user" | cut -d: -f6)
xdg=/tmp/ocirt-test-xdg-$uid
if [ -L "$xdg" ] || { [ -e "$xdg" ] && [ ! -d "$xdg" ]; }; then rm -f "$xdg"; fi
mkdir -p "$xdg" && chown "$uid:$gid" "$xdg" && chmod 0700 "$xdg"

# crun refuses hybrid mode while cgroup2 holds a controller: bind hugetlb
# to v1 at /sys/fs/cgroup/hugetlb, there and nowhere else (HOST-NOTES).
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null && command -v crun >/dev/null; then
	mkdir -p /sys/fs/cgroup/hugetlb &&
		{ mountpoint -q /sys/fs/cgroup/hugetlb || mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb; } ||
		bench_note "could not bind hugetlb to cgroup v1; crun may refuse to run"
fi

work=$(mktemp -d /tmp/ocirt-bench.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/bin" "$work/results" "$work/bench"
cp "$OCIRT" "$work/bin/ocirt-rootless"
cp -r "$here/." "$work/bench/"
rm -rf "$work/bench/results"
build_tool "$work/bin"
chown -R "$uid:$gid" "$work"
chmod 0755 "$work"

as_user() {
	local -a envs=(HOME="$uhome" USER="$user" LOGNAME="$user" XDG_RUNTIME_DIR="$xdg"
		PATH="/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
		OCIRT_BENCH_WORK="$work" OCIRT_BENCH_RUNTIME="$work/bin/ocirt-rootless"
		OCIRT_BENCH_SOURCE="$OCIRT" OCIRT_BENCH_REV="$OCIRT_BENCH_REV")
	local v
	for v in RUNTIMES BENCH_RUNS BENCH_WARMUP BENCH_ROUNDS BENCH_QUICK BENCH_INJECT_LEAK TERM; do
		[ -z "${!v:-}" ] || envs+=("$v=${!v}")
	done
	(cd / && setpriv --reuid="$uid" --regid="$gid" --init-groups env -i "${envs[@]}" "$@")
}

# Timelines of one `run` with perf trace (root may trace; the traced
# runtime still runs as the user, through setpriv). Unlike strace, perf
# does not ptrace, so setuid newuidmap/newgidmap work and can be counted.
timelines() {
	local p=$work/results/profile s n label bundle f procs execs
	command -v perf >/dev/null || return 0
	s=$p/summary.md
	{
		echo "## Timeline of one \`run\` (perf trace as root, runtime as $user)"
		echo
		echo "| runtime, config | processes created | execve seen (setuid ones are not) | file |"
		echo "|---|---:|---:|---|"
	} >>"$s"
	for label in ocirt-rootless:b-true crun:b-true runc:b-true ocirt-rootless:b-nouserns; do
		n=${label%%:*}
		bundle=${label#*:}
		case $n in
		ocirt-rootless) rtp=$work/bin/ocirt-rootless ;;
		*) rtp=$(command -v "$n") || continue ;;
		esac
		f=$p/timeline-$n-$bundle.txt
		mkdir -p "$work/pstate/$n" && chown "$uid:$gid" "$work/pstate/$n"
		local -a as=(setpriv --reuid="$uid" --regid="$gid" --init-groups env -i HOME="$uhome"
			XDG_RUNTIME_DIR="$xdg" PATH=/usr/bin:/bin:/usr/sbin:/sbin
			"$rtp" --root "$work/pstate/$n" run --bundle "$work/$bundle" tl)
		perf trace -o "$f" -e execve,clone,clone3,fork,vfork,exit_group,unshare,setns,pivot_root,wait4,rename,sendmsg,recvfrom \
			-- "${as[@]}" >/dev/null 2>&1 || true
		# Processes: task_newtask without CLONE_THREAD (0x10000), which also
		# sees the setuid helpers; perf trace does not decode clone3 flags.
		perf trace --no-syscalls -e task:task_newtask,sched:sched_process_exec -o "$f.tasks" \
			-- "${as[@]}" >/dev/null 2>&1 || true
		procs=$(grep -o 'clone_flags: [0-9]*' "$f.tasks" | awk '{if (int($2 / 65536) % 2 == 0) n++} END {print n + 0}')
		execs=$(grep 'sched_process_exec' "$f.tasks" | grep -vc -e '"/usr/bin/setpriv"' -e '"/usr/bin/env"')
		echo "| $n, $bundle | $procs | $execs | timeline-$n-$bundle.txt |" >>"$s"
	done
	echo >>"$s"
	chown -R "$uid:$gid" "$p"
}

echo "# benchmarking as $user (uid $uid) in $work" >&2
rc=0
as_user "$work/bin/benchtool" reap "$work/bench/measure.sh" || rc=$?
cp "$work/results/latest.md" "$work/results/latest.json" "$results/" 2>/dev/null || true
[ $rc -eq 0 ] || exit $rc
if [ -n "$profile" ]; then
	as_user "$work/bin/benchtool" reap "$work/bench/profile.sh" || exit $?
	timelines
	rm -rf "$results/profile" && cp -r "$work/results/profile" "$results/"
fi
net_bench
