#!/usr/bin/env bash
# bench/net.sh: rootless network throughput and connection set-up of
# ocirt-rootless' helper (ocirt-rootless-net, --network slirp) against
# slirp4netns and pasta, side by side on this host in one run.
#
#   up        iperf3 from the container to a server on the host's 127.0.0.1
#             (ours and slirp4netns: via the gateway 10.0.2.2 with host
#             loopback allowed; pasta: its -T splice from the namespace's
#             127.0.0.1, its fastest path there; ours-splice: the same
#             with --forward-host UPORT:UPORT)
#   down      iperf3 from the host to a port published into the container
#   connect   sequential TCP connections + HTTP GET to a published port
#             (busybox httpd in the container), mean milliseconds each
#
# at every MTU in OCIRT_NET_MTUS. "ours" is a real container made by
# `ocirt-rootless run -d --network slirp --port-handler slirp` (published
# ports through libslirp), "ours-splice" the same with --port-handler
# splice (the default) and the host's port for "up" forwarded with
# --forward-host (spliced, no host loopback); slirp4netns and pasta serve an
# `unshare -Urn` namespace, as they are used. The clients and servers join
# the namespace with nsenter, the same way for all three.
#
# Traffic stays on loopback and in the namespaces made here. Every run is
# bounded (iperf3 -t, timeout). Not part of `make check`.
#
# As root it runs itself as the test user (scripts/testuser.sh). Needs
# iperf3, slirp4netns, pasta (passt), python3, busybox(-static), jq.
#
# Environment:
#   OCIRT               runtime (default: build/ocirt-rootless of this tree)
#   OCIRT_NET_HELPER    helper (default: next to the runtime)
#   OCIRT_NET_SECONDS   length of each iperf3 run (default 5)
#   OCIRT_NET_MTUS      MTUs to measure (default "1500 65520")
#   OCIRT_NET_CONNS     connections per connect measurement (default 200)
#   OCIRT_NET_BACKENDS  default "ours ours-splice slirp4netns pasta"
#   OCIRT_NET_REPEAT    rounds (backends take turns in each); medians (default 3)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

die() { echo "bench/net.sh: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

case "${1:-}" in
-h | --help) sed -n '2,30s/^# \{0,1\}//p' "$0"; exit 0 ;;
"") ;;
*) die "usage: bench/net.sh (settings through the environment, see --help)" ;;
esac

OCIRT=${OCIRT:-$top/build/ocirt-rootless}
case $OCIRT in /*) ;; *) OCIRT=$PWD/$OCIRT ;; esac
[ -x "$OCIRT" ] || die "runtime $OCIRT not found; run make first (or set OCIRT)"
OCIRT_NET_HELPER=${OCIRT_NET_HELPER:-$(dirname "$OCIRT")/ocirt-rootless-net}
[ -x "$OCIRT_NET_HELPER" ] || die "helper $OCIRT_NET_HELPER not found; run make (or set OCIRT_NET_HELPER)"
export OCIRT OCIRT_NET_HELPER

# ------------------------------------------------------------------- as root
if [ "$(id -u)" -eq 0 ]; then
	# shellcheck source=../scripts/testuser.sh
	. "$top/scripts/testuser.sh"
	ocirt_testuser_setup || die "test user set-up failed"
	work=$(mktemp -d /tmp/ocirt-bench-net.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/bin"
	cp "$OCIRT" "$OCIRT_NET_HELPER" "$work/bin/"
	cp -r "$top/scripts" "$top/bench" "$work/"
	chown -R "$OCIRT_TEST_UID:$OCIRT_TEST_GID" "$work"
	OCIRT=$work/bin/$(basename "$OCIRT") OCIRT_NET_HELPER=$work/bin/$(basename "$OCIRT_NET_HELPER") TMPDIR=$work \
		ocirt_as_testuser "$work/bench/net.sh"
	exit $?
fi

# ---------------------------------------------------- as an unprivileged user
SECS=${OCIRT_NET_SECONDS:-5}
MTUS=${OCIRT_NET_MTUS:-1500 65520}
CONNS=${OCIRT_NET_CONNS:-200}
BACKENDS=${OCIRT_NET_BACKENDS:-ours ours-splice slirp4netns pasta}
REPEAT=${OCIRT_NET_REPEAT:-3}
for t in iperf3 python3 jq unshare nsenter; do
	command -v "$t" >/dev/null || die "$t not found"
done
BUSYBOX=$(command -v busybox) || die "busybox not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/net-bench.XXXXXX")
ROOT=$work/root
PIDS=()
cleanup() {
	local p
	"$OCIRT" --root "$ROOT" delete --force bench >/dev/null 2>&1 || true
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/pasta.pid" ] && kill "$(cat "$work/pasta.pid")" 2>/dev/null
	sleep 0.2
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	local i p
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		grep -q "$(printf ':%04X ' "$p")" /proc/net/tcp /proc/net/tcp6 || { echo "$p"; return 0; }
	done
	return 1
}

# in_ns CMD...: run CMD in the namespace under test (NSPID).
in_ns() { nsenter --preserve-credentials -U -n -t "$NSPID" "$@"; }

wait_listen() {  # PORT [PID]: a TCP listener, 50 x 0.1 s
	local d=/proc/net i
	[ -n "${2:-}" ] && d=/proc/$2/net
	for ((i = 0; i < 50; i++)); do
		# grep reads the files itself: `cat | grep -q` fails under pipefail
		# once grep stops reading early (SIGPIPE).
		grep -qs "$(printf ':%04X [0-9A-F:]* 0A ' "$1")" "$d/tcp" "$d/tcp6" && return 0
		sleep 0.1
	done
	return 1
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }

# ---- backends: start BACKEND MTU sets NSPID, GW (the host's loopback as
# seen from inside), and publishes DPORT -> 5201, CPORT -> 8080.
start_ours() {
	local mtu=$1 handler=${2:-slirp} b=$work/bundle up=(--allow-host-loopback)
	if [ ! -d "$b" ]; then
		"$top/scripts/make-bundle.sh" "$b" >/dev/null 2>&1 || die "could not make the busybox bundle"
		jq '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])
			| .process.args = ["sleep", "100000"]' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
	fi
	# splice: "up" as pasta's -T, the container's 127.0.0.1:UPORT spliced
	# to the host's
	[ "$handler" = splice ] && up=(--forward-host "$UPORT:$UPORT")
	"$OCIRT" --root "$ROOT" run -d --network slirp --port-handler "$handler" "${up[@]}" --mtu "$mtu" \
		-p "127.0.0.1:$DPORT:5201" -p "127.0.0.1:$CPORT:8080" --bundle "$b" bench </dev/null >/dev/null 2>"$work/err" ||
		die "ocirt-rootless run: $(cat "$work/err")"
	NSPID=$("$OCIRT" --root "$ROOT" state bench | jq -r .pid)
	GW=10.0.2.2
	[ "$handler" = splice ] && GW=127.0.0.1
	return 0
}
stop_ours() { "$OCIRT" --root "$ROOT" delete --force bench >/dev/null 2>&1; }
start_ours-splice() { start_ours "$1" splice; }
stop_ours-splice() { stop_ours; }

new_ns() {
	unshare -Urn sleep 100000 &
	NSPID=$!
	PIDS+=("$NSPID")
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(readlink "/proc/$NSPID/ns/net")" != "$(readlink /proc/self/ns/net)" ] && return 0
		sleep 0.02
	done
	die "unshare -Urn did not make a namespace"
}

api_s4nn() {  # JSON request to slirp4netns' API socket
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode())
r = s.recv(4096).decode(); sys.exit(0 if "error" not in r else print(r, file=sys.stderr) or 1)' "$work/s4nn.sock" "$1"
}
start_slirp4netns() {
	local mtu=$1 i
	command -v slirp4netns >/dev/null || return 1
	new_ns
	rm -f "$work/s4nn.sock"
	slirp4netns --configure --mtu="$mtu" --api-socket "$work/s4nn.sock" "$NSPID" tap0 >/dev/null 2>&1 &
	S4PID=$!
	PIDS+=("$S4PID")
	for ((i = 0; i < 50; i++)); do [ -S "$work/s4nn.sock" ] && break; sleep 0.1; done
	api_s4nn "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$DPORT,\"guest_port\":5201}}" &&
		api_s4nn "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":$CPORT,\"guest_port\":8080}}" ||
		die "slirp4netns: add_hostfwd failed"
	GW=10.0.2.2
}
stop_slirp4netns() { kill "$S4PID" "$NSPID" 2>/dev/null; wait "$S4PID" "$NSPID" 2>/dev/null; }

start_pasta() {
	local mtu=$1 i
	command -v pasta >/dev/null || return 1
	new_ns
	rm -f "$work/pasta.pid"
	pasta --quiet --config-net -m "$mtu" -t "$DPORT:5201,$CPORT:8080" -u none -T "$UPORT" -U none \
		-P "$work/pasta.pid" "$NSPID" >/dev/null 2>&1 || die "pasta failed to start"
	for ((i = 0; i < 50; i++)); do
		GW=$(in_ns ip route 2>/dev/null | awk '$1 == "default" { print $3; exit }')
		[ -n "$GW" ] && break
		sleep 0.1
	done
	[ -n "$GW" ] || die "pasta: no default route in the namespace"
	# pasta's own way to the host's loopback: -T splices the namespace's
	# 127.0.0.1:UPORT to the host's (much faster than its gateway mapping).
	GW=127.0.0.1
}
stop_pasta() {
	[ -f "$work/pasta.pid" ] && kill "$(cat "$work/pasta.pid")" 2>/dev/null
	rm -f "$work/pasta.pid"
	kill "$NSPID" 2>/dev/null
	wait "$NSPID" 2>/dev/null
}

# ---- measurements (Gbit/s, or ms)
iperf_up() {
	local port=$1 r
	timeout $((SECS + 10)) iperf3 -s -1 -B 127.0.0.1 -p "$port" >"$work/iperf-s.log" 2>&1 &
	local sp=$!
	wait_listen "$port" || {
		note "up: iperf3 -s on $port: $(head -c 200 "$work/iperf-s.log")"
		kill "$sp"
		return 1
	}
	r=$(timeout $((SECS + 10)) nsenter --preserve-credentials -U -n -t "$NSPID" \
		iperf3 -c "$GW" -p "$port" -t "$SECS" -J 2>&1 | gbits up)
	wait "$sp" 2>/dev/null
	[ -n "$r" ] && printf '%.2f\n' "$r"
}

# gbits WHAT: iperf3 -J on stdin -> Gbit/s received; the error on stderr.
gbits() {
	local j
	j=$(cat)
	jq -e '.end.sum_received.bits_per_second / 1e9' <<<"$j" 2>/dev/null && return 0
	note "$1: iperf3: $(jq -r '.error // empty' <<<"$j" 2>/dev/null || head -c 200 <<<"$j")"
	return 1
}

iperf_down() {
	local r
	timeout $((SECS + 10)) nsenter --preserve-credentials -U -n -t "$NSPID" iperf3 -s -1 -p 5201 >"$work/iperf-s.log" 2>&1 &
	local sp=$!
	wait_listen 5201 "$NSPID" || { note "down: iperf3 -s: $(head -c 200 "$work/iperf-s.log")"; kill "$sp"; return 1; }
	r=$(timeout $((SECS + 10)) iperf3 -c 127.0.0.1 -p "$DPORT" -t "$SECS" -J 2>&1 | gbits down)
	wait "$sp" 2>/dev/null
	[ -n "$r" ] && printf '%.2f\n' "$r"
}

connect_ms() {
	mkdir -p "$work/www"
	echo ok >"$work/www/index.html"
	timeout 120 nsenter --preserve-credentials -U -n -t "$NSPID" "$BUSYBOX" httpd -f -p 8080 -h "$work/www" &
	local sp=$!
	wait_listen 8080 "$NSPID" || { kill "$sp"; return 1; }
	timeout 100 python3 -c 'import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def get():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
get()  # warm-up
t = time.perf_counter()
for _ in range(n):
    get()
print("%.3f" % ((time.perf_counter() - t) * 1000 / n))' "$CPORT" "$CONNS"
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
}

# Backends take turns within each repetition, so that a change of load on
# the host hits all of them alike; the median of the repetitions is kept.
declare -A R
for mtu in $MTUS; do
	for ((rep = 1; rep <= REPEAT; rep++)); do
		for b in $BACKENDS; do
			DPORT=$(free_port) && CPORT=$(free_port) && UPORT=$(free_port) || die "no free port"
			note "MTU $mtu, round $rep/$REPEAT: $b"
			if ! "start_$b" "$mtu"; then
				note "$b: not installed (apt-get install ${b/pasta/passt}), left out"
				continue
			fi
			R[$b,up,$mtu]+="$(iperf_up "$UPORT") "
			R[$b,down,$mtu]+="$(iperf_down) "
			R[$b,conn,$mtu]+="$(connect_ms) "
			"stop_$b"
		done
	done
	for k in "${!R[@]}"; do
		[[ $k == *,"$mtu" ]] && R[$k]=$(tr ' ' '\n' <<<"${R[$k]}" | grep . | median)
	done
done

ratio() {  # A B [inverse]: A/B (B/A with inverse), 2 decimals
	[ -n "$1" ] && [ -n "$2" ] || { echo "-"; return; }
	if [ -n "${3:-}" ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'
	else
		awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
	fi
}

echo
echo "rootless networking, $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"median of $REPEAT rounds: iperf3 ${SECS}s, $CONNS connections"
fmt='%-26s %8s %8s %8s %8s %10s %10s %10s %10s\n'
# shellcheck disable=SC2059 # the format is ours
printf "$fmt" "" ours splice s4nn pasta ours/s4nn spl/s4nn ours/pasta spl/pasta
for mtu in $MTUS; do
	for m in up down conn; do
		case $m in
		up) label="up Gbit/s (MTU $mtu)"; inv= ;;
		down) label="down Gbit/s (MTU $mtu)"; inv= ;;
		conn) label="connect+GET ms (MTU $mtu)"; inv=1 ;;
		esac
		o=${R[ours,$m,$mtu]:-} x=${R[ours-splice,$m,$mtu]:-} s=${R[slirp4netns,$m,$mtu]:-} p=${R[pasta,$m,$mtu]:-}
		# shellcheck disable=SC2059
		printf "$fmt" "$label" "${o:--}" "${x:--}" "${s:--}" "${p:--}" \
			"$(ratio "$o" "$s" $inv)" "$(ratio "$x" "$s" $inv)" "$(ratio "$o" "$p" $inv)" "$(ratio "$x" "$p" $inv)"
	done
done
echo "(ours: published ports and up through libslirp; splice: --port-handler splice, the default, and up through --forward-host;"
echo " ratios: higher is better for ours; for connect+GET it is their time / ours)"
