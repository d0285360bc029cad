#!/usr/bin/env bash
# bench/overlay.sh: the cost of a layered rootfs. The same read- and
# metadata-heavy workload runs in a container whose root is
#   plain   a directory (root.path),
#   kernel  the same tree as a read-only layer under kernel overlayfs
#           (--layer DIR --overlay kernel, userxattr in the user namespace),
#   fuse    the same layer under fuse-overlayfs (--overlay fuse),
# side by side in one run, with hyperfine (alternating, medians), and the
# ratio to plain. Workloads (inside the container):
#   find    find / -xdev | wc -l          (directory walk, lookups)
#   stat    find /data -type f | xargs stat >/dev/null   (metadata)
#   tar     tar -cf - /data | wc -c       (reads every byte)
#   write   dd 64 MiB to /tmp/x           (copy-up / upper writes)
# Not part of `make check`; never asserts on time.
#
# As root it runs itself as the test user (scripts/testuser.sh).
# Environment: OCIRT (runtime, default build/ocirt-rootless), OCIRT_OV_FILES
# (files in the data tree, default 4000), OCIRT_OV_RUNS (default 10).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
die() { echo "bench/overlay.sh: $*" >&2; exit 1; }

OCIRT=${OCIRT:-$top/build/ocirt-rootless}
[ -x "$OCIRT" ] || die "runtime $OCIRT not found; run make (or set OCIRT)"
command -v hyperfine >/dev/null || die "hyperfine is not installed (apt install hyperfine)"

if [ "$(id -u)" -eq 0 ]; then
	# shellcheck source=../scripts/testuser.sh
	. "$top/scripts/testuser.sh"
	ocirt_testuser_setup || die "test user set-up failed"
	work=$(mktemp -d /tmp/ocirt-bench-ov.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/bin"
	cp "$OCIRT" "$work/bin/"
	cp -r "$top/scripts" "$top/bench" "$work/"
	chown -R "$OCIRT_TEST_UID:$OCIRT_TEST_GID" "$work"
	OCIRT=$work/bin/$(basename "$OCIRT") TMPDIR=$work ocirt_as_testuser "$work/bench/overlay.sh"
	exit $?
fi

FILES=${OCIRT_OV_FILES:-4000}
RUNS=${OCIRT_OV_RUNS:-10}
w=$(mktemp -d "${TMPDIR:-/tmp}/ov.XXXXXX")
root=$w/root
cleanup() {
	"$OCIRT" --root "$root" list -q 2>/dev/null | while read -r id; do
		"$OCIRT" --root "$root" delete --force "$id" >/dev/null 2>&1
	done
	chmod -R u+rwX "$w" 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT

# One tree: the busybox fixture plus /data with FILES small files in 40
# directories. The plain bundle uses it as root.path; the overlay bundles
# use it as their only read-only layer (and an empty root.path).
"$top/scripts/make-bundle.sh" "$w/plain" >/dev/null || die "make-bundle.sh failed"
for ((d = 0; d < 40; d++)); do
	mkdir -p "$w/plain/rootfs/data/d$d"
	for ((f = d; f < FILES; f += 40)); do
		printf '%0512d\n' "$f" >"$w/plain/rootfs/data/d$d/f$f"
	done
done
jq '.process.terminal = false | del(.linux.uidMappings, .linux.gidMappings)
    | .linux.namespaces |= map(select(.type != "user"))' \
	"$w/plain/config.json" >"$w/config.template"
mkdir -p "$w/layered/rootfs"

declare -A WORK=(
	[find]='find / -xdev | wc -l'
	[stat]='find /data -type f | xargs stat >/dev/null'
	[tar]='tar -cf - /data | wc -c'
	[write]='dd if=/dev/zero of=/tmp/x bs=1M count=64 2>/dev/null; sync'
)
# `run` of one workload as a shell command line for hyperfine.
cmd_for() { # BACKEND WORKLOAD
	local b=$1 wl=${WORK[$2]} bundle=$w/plain extra=""
	case $b in
	kernel) bundle=$w/layered extra="--layer $w/plain/rootfs --overlay kernel" ;;
	fuse) bundle=$w/layered extra="--layer $w/plain/rootfs --overlay fuse" ;;
	esac
	jq --arg c "$wl" '.process.args = ["sh", "-c", $c] | .root.readonly = false' "$w/config.template" \
		>"$bundle/config.json"
	# foreground run deletes the container when it exits: one id will do
	echo "$OCIRT --root $root run $extra --bundle $bundle ov-$b >/dev/null"
}

backends=(plain kernel)
if [ -r /dev/fuse ] && [ -w /dev/fuse ] && command -v fuse-overlayfs >/dev/null; then
	backends+=(fuse)
else
	echo "# fuse-overlayfs or /dev/fuse not usable: fuse column skipped" >&2
fi

head="| workload |" rule="|---|"
for b in "${backends[@]}"; do head+=" $b |"; rule+="---:|"; done
for b in "${backends[@]:1}"; do head+=" $b/plain |"; rule+="---:|"; done
echo "$head"
echo "$rule"
for wl in find stat tar write; do
	declare -A med=()
	for b in "${backends[@]}"; do
		c=$(cmd_for "$b" "$wl")
		# once outside hyperfine, so a failure shows its message
		sh -c "$c" >"$w/hf.err" 2>&1 || die "$b/$wl failed: $(tail -3 "$w/hf.err")"
		hyperfine -N -w 1 -r "$RUNS" --export-json "$w/$wl-$b.json" "sh -c '$c'" >/dev/null 2>"$w/hf.err" ||
			die "$b/$wl failed: $(tail -3 "$w/hf.err")"
		med[$b]=$(jq '.results[0].median * 1000' "$w/$wl-$b.json")
	done
	printf '| %s |' "$wl"
	for b in "${backends[@]}"; do printf ' %.1f ms |' "${med[$b]}"; done
	for b in "${backends[@]:1}"; do
		printf ' ×%s |' "$(awk -v a="${med[$b]}" -v p="${med[plain]}" 'BEGIN { printf "%.2f", a / p }')"
	done
	echo
done
echo "($FILES files of 513 bytes in /data; each cell: median of $RUNS runs of \`run\`, container start included)"
