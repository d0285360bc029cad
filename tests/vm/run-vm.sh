#!/usr/bin/env bash
# run-vm.sh [RUNTIME]: the VM tier (`make check-vm`). Tests that need real
# systemd and cgroup v2 only (this host is hybrid without systemd) run in a
# Debian 12 guest under qemu TCG (KVM guests do not boot here):
#
#   1. build-image.sh: the cached image (rebuilt when its recipe changes);
#   2. a payload disk with RUNTIME (default build/ocirt-rootless), tests/,
#      scripts/ and the list of bats files (VM_TESTS);
#   3. boot; in the guest ocirt-vm-test.service runs the tests as the
#      lingering user `ocirt` inside its systemd user manager and prints
#      TAP on the serial console between markers, then powers off;
#   4. here: the TAP, a "N passed, N failed, N skipped" line, and a
#      non-zero exit on any failure, a missing result, or a guest that did
#      not finish within OCIRT_VM_TIMEOUT seconds (killed by its pid).
#
# Root (image build). Environment: VM_TESTS (bats files relative to the
# tree, default "tests/vm/cgroups-vm.bats tests/bats/cgroups.bats"),
# OCIRT_VM_TIMEOUT (default 600), OCIRT_VM_DIR (cache, /var/tmp/ocirt-vm),
# OCIRT_VM_KEEP=1 (keep the console log and payload).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
runtime=${1:-$top/build/ocirt-rootless}
VM_TESTS=${VM_TESTS:-"tests/vm/cgroups-vm.bats tests/bats/cgroups.bats"}
timeout_s=${OCIRT_VM_TIMEOUT:-600}
vm_dir=${OCIRT_VM_DIR:-/var/tmp/ocirt-vm}
start=$(date +%s)

fail() {
	echo "run-vm.sh: $*" >&2
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

[ -x "$runtime" ] || fail "runtime $runtime not found; run make first"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not installed: apt-get install qemu-system-x86"
for t in $VM_TESTS; do
	[ -f "$top/$t" ] || fail "no test file $t"
done

image=$("$here/build-image.sh") || fail "could not build the VM image"
built=$(date +%s)
echo "# image $image ready after $((built - start)) s"

work=$(mktemp -d "$vm_dir/run.XXXXXX")
cleanup() {
	[ -n "${qpid:-}" ] && kill -9 "$qpid" 2>/dev/null
	if [ -n "${OCIRT_VM_KEEP:-}" ]; then
		echo "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

payload=$work/payload
mkdir -p "$payload/bin"
cp "$runtime" "$payload/bin/ocirt-rootless"
cp -r "$top/tests" "$top/scripts" "$payload/"
echo "$VM_TESTS" >"$payload/vm-tests"
truncate -s 256M "$work/payload.img"
mkfs.ext4 -q -L payload -d "$payload" "$work/payload.img" || fail "mkfs.ext4 of the payload failed"

console=$work/console.log
qemu-system-x86_64 -accel tcg,thread=multi -m 2048 -smp 2 -display none -monitor none \
	-serial "file:$console" -no-reboot -nic none \
	-kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
	-drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
	-drive "file=$work/payload.img,format=raw,if=virtio,readonly=on" \
	-append "console=ttyS0 root=/dev/vda rw panic=1 quiet loglevel=1 systemd.show_status=0 systemd.unified_cgroup_hierarchy=1" \
	</dev/null >"$work/qemu.out" 2>&1 &
qpid=$!

deadline=$((built + timeout_s))
while kill -0 "$qpid" 2>/dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		kill -9 "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
		qpid=
		echo "# guest did not finish within $timeout_s s; console tail:" >&2
		tail -n 30 "$console" | sed 's/^/#   /' >&2
		fail "VM timed out (OCIRT_VM_TIMEOUT=$timeout_s)"
	fi
	sleep 1
done
wait "$qpid" 2>/dev/null
qpid=
done_at=$(date +%s)

tr -d '\r' <"$console" >"$work/console.txt"
if ! grep -q '^=== OCIRT-VM-TAP-END' "$work/console.txt"; then
	echo "# no test result on the console; tail:" >&2
	tail -n 40 "$work/console.txt" | sed 's/^/#   /' >&2
	tail -n 5 "$work/qemu.out" | sed 's/^/# qemu: /' >&2
	fail "the guest produced no result"
fi
sed -n '/^=== OCIRT-VM-TAP-BEGIN ===/,/^=== OCIRT-VM-TAP-END/p' "$work/console.txt" |
	sed '1d;$d' >"$work/result.tap"
grep '^ocirt-vm: ' "$work/console.txt" | sed 's/^/# /'
cat "$work/result.tap"
guest_rc=$(sed -n 's/^=== OCIRT-VM-TAP-END rc=\([0-9]*\) ===$/\1/p' "$work/console.txt" | tail -n 1)

p=$(grep -cE '^ok [0-9]+' "$work/result.tap")
s=$(grep -cE '^ok [0-9]+.*# [Ss][Kk][Ii][Pp]' "$work/result.tap")
f=$(grep -cE '^not ok [0-9]+' "$work/result.tap")
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$work/result.tap" | tail -n 1)
if [ -n "$plan" ] && [ "$plan" -gt $((p + f)) ]; then
	echo "# $((plan - p - f)) planned tests did not report"
	f=$((f + plan - p - f))
fi
if [ "${guest_rc:-1}" -ne 0 ] && [ "$f" -eq 0 ]; then
	echo "# the guest's test run exited with status ${guest_rc:-?}"
	f=$((f + 1))
fi
echo "# times: image $((built - start)) s, boot + tests $((done_at - built)) s, total $((done_at - start)) s"
echo "$((p - s)) passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
