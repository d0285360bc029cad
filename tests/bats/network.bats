#!/usr/bin/env bats
# Built-in rootless networking: --network slirp starts ocirt-rootless-net
# (net/) for the container's network namespace.
#
# Traffic goes only to loopback (127.0.0.1, ::1) or to the namespaces the
# tests make; every wait is bounded by a count and a time. Host ports are
# picked free at random in 20000..59999.
#
# The helper is found as the runtime finds it: $OCIRT_NET_HELPER, else
# ocirt-rootless-net next to $OCIRT.

load helpers

eval "$(declare -f setup | sed '1s/^setup/helpers_setup/')"
eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"

setup_file() {
	# A static UDP echo server and client (busybox nc has no UDP):
	#   udp-echo PORT                          echo every datagram back
	#   udp-echo -c ADDR PORT TEXT [SRCPORT]   send TEXT, print the answer (2 s)
	UDP_ECHO=$BATS_FILE_TMPDIR/udp-echo
	cat >"$BATS_FILE_TMPDIR/udp-echo.c" <<-'EOF'
		#include <arpa/inet.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <string.h>
		#include <sys/socket.h>
		#include <sys/time.h>
		int main(int argc, char **argv)
		{
			struct sockaddr_in a = {.sin_family = AF_INET};
			int fd = socket(AF_INET, SOCK_DGRAM, 0);
			char buf[2048];
			if (argc >= 5 && strcmp(argv[1], "-c") == 0) {
				struct timeval tv = {.tv_sec = 2};
				struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
				ssize_t n;
				a.sin_port = htons(argc > 5 ? atoi(argv[5]) : 0);
				inet_pton(AF_INET, argv[2], &to.sin_addr);
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
				    sendto(fd, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
					return 2;
				n = recv(fd, buf, sizeof(buf) - 1, 0);
				if (n < 0)
					return 1;
				buf[n] = 0;
				printf("%s\n", buf);
				return 0;
			}
			a.sin_port = htons(atoi(argc > 1 ? argv[1] : "7"));
			if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
				return 1;
			for (;;) {
				struct sockaddr_in from;
				socklen_t len = sizeof(from);
				ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
				if (n > 0)
					sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
			}
		}
	EOF
	cc -static -O2 -o "$UDP_ECHO" "$BATS_FILE_TMPDIR/udp-echo.c" 2>/dev/null || rm -f "$UDP_ECHO"
	export UDP_ECHO
}

setup() {
	helpers_setup
	# Unique among concurrent runs too: pgrep finds helpers by id.
	CID=net$BATS_TEST_NUMBER-$$-$RANDOM
	HOST_PIDS=()
	HELPER_PIDS=()
	[ "$OCIRT_IS_OURS" = 1 ] || skip "$RUNTIME_NAME has no built-in networking"
	NET_HELPER=${OCIRT_NET_HELPER:-$(dirname "$OCIRT")/ocirt-rootless-net}
	[ -x "$NET_HELPER" ] ||
		fail "network helper $NET_HELPER not found: install ocirt-rootless-net next to $OCIRT (run-tests.sh copies the runtime) or set OCIRT_NET_HELPER"
	export OCIRT_NET_HELPER=$NET_HELPER
	# A new network namespace: without it the container shares the host's.
	update_config '.linux.namespaces |= (map(select(.type != "network")) + [{type: "network"}])'
}

teardown() {
	local rc=0 pid
	helpers_teardown || rc=$?
	for pid in "${HOST_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${HELPER_PIDS[@]}"; do
		if ! wait_pid_gone "$pid" 5 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
			echo "# teardown: network helper $pid survived delete --force" >&2
			rc=1
		fi
	done
	return "$rc"
}

# free_port: a port in 20000..59999 with no TCP or UDP socket on it.
free_port() {
	local i p hex
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		hex=$(printf ':%04X ' "$p")
		if ! grep -qs "$hex" /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# net_run FLAG... -- COMMAND...: run the container in the foreground with
# the runtime flags (bats `run`, stderr apart).
net_run() {
	local flags=()
	while [ "$1" != "--" ]; do
		flags+=("$1")
		shift
	done
	shift
	set_args "$@"
	run --separate-stderr runtime run "${flags[@]}" --bundle "$BUNDLE" "$CID" </dev/null
	[ -z "$stderr" ] || printf '# stderr of run %s (status %s):\n%s\n' "$*" "$status" "$stderr"
}

# net_run_d FLAG... -- COMMAND...: run -d; sets CPID and HPID (the helper).
net_run_d() {
	local flags=()
	while [ "$1" != "--" ]; do
		flags+=("$1")
		shift
	done
	shift
	set_args "$@"
	runtime run -d "${flags[@]}" --bundle "$BUNDLE" "$CID" </dev/null \
		>"$BATS_TEST_TMPDIR/detached.out" 2>"$BATS_TEST_TMPDIR/detached.err" ||
		fail "run -d failed: $(cat "$BATS_TEST_TMPDIR/detached.err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	HPID=$(helper_pid)
	HELPER_PIDS+=("$HPID")
}

# helper_pid [ID]: the helper's pid as the state records it.
helper_pid() {
	local pid
	pid=$(jq -r '.extra.network.helper_pid // empty' "$ROOT/${1:-$CID}/state.json")
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "no network helper recorded in $ROOT/${1:-$CID}/state.json"
	echo "$pid"
}

# helpers_of_container ID: pids of ocirt-rootless-net started for ID (ids
# are unique per test run, see setup).
helpers_of_container() {
	pgrep -u "$(id -u)" -f "ocirt-rootless-net --id $1 --pid=" || true
}

# http_get HOST PORT [PATH]: the answer to GET PATH (default /; bash
# /dev/tcp; 3 s bound).
http_get() {
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET %s HTTP/1.0\r\n\r\n" "$3" >&3 && cat <&3' \
		_ "$1" "$2" "${3:-/}" 2>/dev/null
}

# wait_http HOST PORT TEXT: poll (40 x 0.1 s) until GET / returns TEXT.
wait_http() {
	local i
	for ((i = 0; i < 40; i++)); do
		http_get "$1" "$2" | grep -q "$3" && return 0
		sleep 0.1
	done
	return 1
}

# udp_ask HOST PORT TEXT: send TEXT, print the first answer (2 s bound).
udp_ask() {
	timeout 3 bash -c 'exec 3<>"/dev/udp/$1/$2" && printf "%s" "$3" >&3 && read -r -t 2 -N ${#3} -u 3 r && printf "%s" "$r"' \
		_ "$1" "$2" "$3" 2>/dev/null
}

# host_server PORT TEXT: a TCP server on the host (all IPv4 addresses, so
# 127.0.0.1) answering TEXT to every connection, for 60 s at most.
host_server() {
	timeout 60 busybox nc -ll -p "$1" -e echo "$2" </dev/null >/dev/null 2>&1 &
	HOST_PIDS+=($!)
	local i
	for ((i = 0; i < 40; i++)); do
		[ "$(echo | busybox nc -w 1 127.0.0.1 "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "host server on port $1 did not come up"
}

www() {
	mkdir -p "$BUNDLE/rootfs/www"
	echo "hello from the container" >"$BUNDLE/rootfs/www/index.html"
}

@test "network: without --network a new network namespace has only lo" {
	net_run -- cat /proc/net/dev
	assert_success
	run awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$output"
	assert_output "lo"
	[ -z "$(helpers_of_container "$CID")" ] || fail "a network helper was started"
}

@test "network: --network slirp gives tap0 10.0.2.100/24, a default route via 10.0.2.2 and MTU 65520" {
	net_run --network slirp -- sh -c 'ip -o -4 addr show tap0; ip route; ip -o link show tap0'
	assert_success
	assert_output --partial "inet 10.0.2.100/24"
	assert_output --partial "default via 10.0.2.2 dev tap0"
	assert_output --regexp "tap0: <[^>]*UP[^>]*> mtu 65520 "
}

@test "network: --mtu and run.oci.ocirt.mtu set the MTU; the flag wins over the annotation" {
	net_run --network slirp --mtu 1500 -- ip -o link show tap0
	assert_success
	assert_output --partial "mtu 1500 "
	update_config '.annotations["run.oci.ocirt.mtu"] = "4000"'
	net_run --network slirp -- ip -o link show tap0
	assert_success
	assert_output --partial "mtu 4000 "
	net_run --network slirp --mtu 9000 -- ip -o link show tap0
	assert_success
	assert_output --partial "mtu 9000 "
}

@test "network: annotations alone ask for slirp, published ports and host loopback" {
	local hp lp
	hp=$(free_port) && lp=$(free_port) || fail "no free port"
	host_server "$lp" "hello from the host"
	www
	update_config '.annotations += {"run.oci.ocirt.network": "slirp",
		"run.oci.ocirt.publish": ("127.0.0.1:" + $hp + ":80/tcp"),
		"run.oci.ocirt.allow-host-loopback": "true"}' --arg hp "$hp"
	net_run_d -- sh -c "echo | nc -w 3 10.0.2.2 $lp >/www/from-host; exec httpd -f -p 80 -h /www"
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer"
	run cat "$BUNDLE/rootfs/www/from-host"
	assert_output "hello from the host"
}

@test "network: IPv6: fd00::100/64 with a default route via fd00::2; a published [::1] port" {
	local hp
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 || skip "the host has no ::1"
	hp=$(free_port) || fail "no free port"
	www
	net_run_d --network slirp -p "[::1]:$hp:80" -- sh -c 'ip -o -6 addr show tap0 >/www/addr; ip -6 route >/www/route; exec httpd -f -p 80 -h /www'
	wait_http ::1 "$hp" "hello from the container" || fail "published port [::1]:$hp did not answer"
	run cat "$BUNDLE/rootfs/www/addr"
	assert_output --partial "inet6 fd00::100/64"
	run cat "$BUNDLE/rootfs/www/route"
	assert_output --partial "default via fd00::2 dev tap0"
}

@test "network: a published TCP port reaches busybox httpd in the container from the host's 127.0.0.1" {
	local hp
	hp=$(free_port) || fail "no free port"
	www
	net_run_d --network slirp --publish "127.0.0.1:$hp:80" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer"
	# Only the published address listens.
	grep -q "$(printf '0100007F:%04X 00000000:0000 0A' "$hp")" /proc/net/tcp || fail "nothing listens on 127.0.0.1:$hp"
}

@test "network: a published UDP port: round trip to a UDP echo server in the container" {
	local hp i reply=""
	[ -x "${UDP_ECHO:-}" ] || skip "no C compiler with a static libc to build the UDP echo server (cc -static)"
	hp=$(free_port) || fail "no free port"
	cp "$UDP_ECHO" "$BUNDLE/rootfs/udp-echo"
	net_run_d --network slirp -p "127.0.0.1:$hp:7/udp" -- /udp-echo 7
	for ((i = 0; i < 20; i++)); do
		reply=$(udp_ask 127.0.0.1 "$hp" "ping-$i") || true
		[ "$reply" = "ping-$i" ] && break
		sleep 0.1
	done
	[ "$reply" = "ping-$i" ] || fail "no UDP echo through 127.0.0.1:$hp (last answer '$reply')"
}

@test "network: UDP to the host's loopback only with --allow-host-loopback; published UDP answers open nothing else" {
	local lp hp
	[ -x "${UDP_ECHO:-}" ] || skip "no C compiler with a static libc to build the UDP echo server (cc -static)"
	lp=$(free_port) && hp=$(free_port) || fail "no free port"
	timeout 60 "$UDP_ECHO" "$lp" &
	HOST_PIDS+=($!)
	cp "$UDP_ECHO" "$BUNDLE/rootfs/udp-echo"
	net_run --network slirp --allow-host-loopback -- /udp-echo -c 10.0.2.2 "$lp" hello-host
	assert_success
	assert_output "hello-host"
	# Without it: neither from an ephemeral port nor from a published
	# UDP port (whose answers to loopback clients the helper delivers).
	net_run --network slirp -p "127.0.0.1:$hp:7/udp" -- sh -c \
		"/udp-echo -c 10.0.2.2 $lp eph; echo status=\$?; /udp-echo -c 10.0.2.2 $lp fwd 7; echo status=\$?"
	assert_success
	assert_output "$(printf 'status=1\nstatus=1')"
}

# listening PORT [PID]: wait (50 x 0.1 s) for a TCP listener on PORT, on the
# host or in the network namespace of PID.
listening() {
	local d=/proc/net i
	[ -n "${2:-}" ] && d=/proc/$2/net
	for ((i = 0; i < 50; i++)); do
		grep -qs "$(printf ':%04X [0-9A-F:]* 0A ' "$1")" "$d/tcp" "$d/tcp6" && return 0
		sleep 0.1
	done
	return 1
}

# wait_size FILE BYTES: wait (100 x 0.1 s) until FILE has BYTES bytes.
wait_size() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "network: 16 MiB arrive intact both ways at MTU 1500 and 65520 (checksum and TSO offload)" {
	local mtu lp hp want
	head -c 16777216 /dev/urandom >"$BUNDLE/rootfs/big"
	want=$(sha256sum <"$BUNDLE/rootfs/big")
	for mtu in 1500 65520; do
		# container -> host loopback
		lp=$(free_port) || fail "no free port"
		(sleep 30 | timeout 30 busybox nc -l -p "$lp" >"$BATS_TEST_TMPDIR/up") >/dev/null 2>&1 &
		HOST_PIDS+=($!)
		listening "$lp" || fail "host sink on $lp did not listen"
		net_run --network slirp --allow-host-loopback --mtu "$mtu" -- sh -c "nc 10.0.2.2 $lp </big"
		assert_success
		wait_size "$BATS_TEST_TMPDIR/up" 16777216 || fail "MTU $mtu: $(stat -c %s "$BATS_TEST_TMPDIR/up") of 16777216 bytes arrived on the host"
		[ "$(sha256sum <"$BATS_TEST_TMPDIR/up")" = "$want" ] || fail "MTU $mtu: the host got other bytes"
		# host -> published port, through libslirp (the splice handler
		# does not touch the tap: its own test is below)
		hp=$(free_port) || fail "no free port"
		rm -f "$BUNDLE/rootfs/down"
		net_run_d --network slirp --port-handler slirp --mtu "$mtu" -p "127.0.0.1:$hp:80" -- sh -c 'sleep 30 | nc -l -p 80 >/down'
		listening 80 "$CPID" || fail "the container's nc did not listen"
		timeout 30 busybox nc 127.0.0.1 "$hp" <"$BUNDLE/rootfs/big" >/dev/null
		wait_size "$BUNDLE/rootfs/down" 16777216 || fail "MTU $mtu: $(stat -c %s "$BUNDLE/rootfs/down") of 16777216 bytes arrived in the container"
		[ "$(sha256sum <"$BUNDLE/rootfs/down")" = "$want" ] || fail "MTU $mtu: the container got other bytes"
		runtime delete --force "$CID"
	done
}

@test "network: --allow-host-loopback: the container reaches a server on the host's 127.0.0.1 via 10.0.2.2" {
	local lp
	lp=$(free_port) || fail "no free port"
	host_server "$lp" "hello from the host"
	net_run --network slirp --allow-host-loopback -- sh -c "echo | nc -w 3 10.0.2.2 $lp"
	assert_success
	assert_output "hello from the host"
}

@test "network: without --allow-host-loopback the host's 127.0.0.1 is out of reach" {
	local lp
	lp=$(free_port) || fail "no free port"
	host_server "$lp" "hello from the host"
	net_run --network slirp -- sh -c "echo | nc -w 3 10.0.2.2 $lp; echo status=\$?"
	assert_success
	refute_output --partial "hello from the host"
	assert_output --partial "status=1"
}

@test "network: ICMP echo to the gateway, IPv4 and IPv6 (raw sockets with CAP_NET_RAW)" {
	update_config '.process.capabilities |= with_entries(.value += ["CAP_NET_RAW"])'
	net_run --network slirp -- sh -c 'ping -c 1 -W 3 10.0.2.2 && ping6 -c 1 -W 3 fd00::2'
	assert_success
	assert_output --partial "1 packets received"
	[ "$(grep -c '1 packets received' <<<"$output")" -eq 2 ] || fail "not both pings were answered"
}

@test "network: /etc/resolv.conf is the bundle's; the helper does not write it" {
	echo "nameserver 10.0.2.3  # from the bundle" >"$BUNDLE/rootfs/etc/resolv.conf"
	net_run --network slirp -- cat /etc/resolv.conf
	assert_success
	assert_output "nameserver 10.0.2.3  # from the bundle"
}

# dns_responder PORT NAME ADDR LOG: a DNS server on 127.0.0.1:PORT (UDP)
# answering A queries for NAME with ADDR, AAAA for NAME with no data,
# anything else NXDOMAIN; every query name goes to LOG. 60 s at most.
dns_responder() {
	timeout 60 python3 -c '
import socket, struct, sys
port, name, addr, log = int(sys.argv[1]), sys.argv[2].lower(), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
while True:
    q, peer = s.recvfrom(4096)
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    qend = i + 5
    qname, (qtype,) = ".".join(labels).lower(), struct.unpack(">H", q[i + 1:i + 3])
    with open(log, "a") as f:
        print(qname, qtype, file=f)
    ans = b""
    if qname == name and qtype == 1:
        ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
    rcode = 0 if qname == name else 3
    hdr = q[:2] + struct.pack(">HHHHH", 0x8180 | rcode, 1, 1 if ans else 0, 0, 0)
    s.sendto(hdr + q[12:qend] + ans, peer)
' "$@" </dev/null >/dev/null 2>&1 &
	HOST_PIDS+=($!)
	local i
	for ((i = 0; i < 50; i++)); do
		grep -qs "$(printf '0100007F:%04X ' "$1")" /proc/net/udp && return 0
		sleep 0.1
	done
	fail "DNS responder on 127.0.0.1:$1 did not come up"
}

@test "network: DNS through 10.0.2.3 and fd00::3 goes to run.oci.ocirt.dns-upstream" {
	local dp
	dp=$(free_port) || fail "no free port"
	dns_responder "$dp" box.ocirt.test 192.0.2.55 "$BATS_TEST_TMPDIR/queries"
	echo "nameserver 10.0.2.3" >"$BUNDLE/rootfs/etc/resolv.conf"
	# Host loopback stays refused: DNS is the one way there.
	update_config '.annotations["run.oci.ocirt.dns-upstream"] = ("127.0.0.1:" + $dp)' --arg dp "$dp"
	net_run --network slirp -- sh -c 'timeout 20 nslookup box.ocirt.test 10.0.2.3; echo status=$?
		timeout 20 nslookup box.ocirt.test fd00::3; echo status=$?
		timeout 20 nslookup other.ocirt.test 10.0.2.3; echo status=$?'
	assert_success
	[ "$(grep -c 'Address: 192.0.2.55' <<<"$output")" -eq 2 ] || fail "not both lookups got 192.0.2.55"
	assert_output --partial "status=0"
	assert_output --partial "NXDOMAIN"
	assert_line "status=1"
	grep -q '^box.ocirt.test 1$' "$BATS_TEST_TMPDIR/queries" || fail "the responder saw no A query: $(cat "$BATS_TEST_TMPDIR/queries")"
}

@test "network: with nothing at the DNS upstream a lookup fails within bounded time" {
	local dp start
	dp=$(free_port) || fail "no free port"
	update_config '.annotations["run.oci.ocirt.dns-upstream"] = ("127.0.0.1:" + $dp)' --arg dp "$dp"
	start=$SECONDS
	net_run --network slirp -- sh -c 'timeout 30 nslookup box.ocirt.test 10.0.2.3; echo status=$?'
	assert_success
	refute_output --partial "192.0.2."
	refute_output "status=0"
	refute_output "status=143"
	[ $((SECONDS - start)) -lt 30 ] || fail "the failed lookup took $((SECONDS - start)) s"
}

@test "network: a bad run.oci.ocirt.dns-upstream fails before anything is created" {
	local bad
	set_args true
	for bad in 127.0.0.1:0 localhost "[::1]" 1.2.3:53 ::1:x; do
		update_config '.annotations["run.oci.ocirt.dns-upstream"] = $v' --arg v "$bad"
		run --separate-stderr runtime run --network slirp --bundle "$BUNDLE" "$CID" </dev/null
		assert_runtime_error "run.oci.ocirt.dns-upstream"
	done
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

# api_forwards HANDLER: the API socket adds, lists and removes a TCP
# forward served by HANDLER.
api_forwards() {
	local hp
	hp=$(free_port) || fail "no free port"
	www
	net_run_d --network slirp --port-handler "$1" -- httpd -f -p 80 -h /www
	[ -S "$ROOT/$CID/net.sock" ] || fail "no API socket at $ROOT/$CID/net.sock"
	run runtime port list "$CID" --format json
	assert_success
	assert_output "[]"
	run runtime port add "$CID" "127.0.0.1:$hp:80"
	assert_success
	assert_output "1"
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "added forward $hp did not answer"
	run runtime port list "$CID"
	assert_success
	assert_line --regexp "^1 +tcp +127\.0\.0\.1:$hp +10\.0\.2\.100:80$"
	run --separate-stderr runtime port add "$CID" "127.0.0.1:$hp:80"
	assert_runtime_error "already forwarded"
	run runtime port rm "$CID" 1
	assert_success
	http_get 127.0.0.1 "$hp" | grep -q "hello" && fail "removed forward $hp still answers"
	run runtime port list "$CID" --format json
	assert_output "[]"
	run --separate-stderr runtime port rm "$CID" 1
	assert_runtime_error "no forward with id 1"
}

@test "network: the API socket adds, lists and removes a forward at run time (libslirp)" {
	api_forwards slirp
}

@test "network: the API socket adds, lists and removes a forward at run time (splice)" {
	api_forwards splice
}

# ---- the splice port handler (net/splice.c) -------------------------------

# cgi_addr: /www with an index and /cgi-bin/addr, which prints the address
# the client came from (busybox httpd's REMOTE_ADDR).
cgi_addr() {
	www
	mkdir -p "$BUNDLE/rootfs/www/cgi-bin"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' >"$BUNDLE/rootfs/www/cgi-bin/addr"
	chmod 0755 "$BUNDLE/rootfs/www/cgi-bin/addr"
}

# client_addr PORT: the address the container saw for a GET through PORT.
client_addr() {
	http_get 127.0.0.1 "$1" /cgi-bin/addr | tail -n 1 | sed 's/^\[\(::ffff:\)\{0,1\}//; s/\]$//'
}

@test "network: splice (the default) reaches busybox httpd; the container sees its own address, libslirp 10.0.2.2" {
	local hp
	hp=$(free_port) || fail "no free port"
	cgi_addr
	net_run_d --network slirp -p "127.0.0.1:$hp:80" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer"
	[ "$(jq -r .extra.network.port_handler "$ROOT/$CID/state.json")" = splice ] || fail "the default is not splice"
	grep -q "$(printf '0100007F:%04X 00000000:0000 0A' "$hp")" /proc/net/tcp || fail "nothing listens on 127.0.0.1:$hp"
	run client_addr "$hp"
	assert_output "10.0.2.100"
	runtime delete --force "$CID"
	# The annotation picks libslirp, which keeps the client's address.
	update_config '.annotations["run.oci.ocirt.port-handler"] = "slirp"'
	net_run_d --network slirp -p "127.0.0.1:$hp:80" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer (libslirp)"
	run client_addr "$hp"
	assert_output "10.0.2.2"
	runtime delete --force "$CID"
	# The flag wins over the annotation.
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:80" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer (flag)"
	run client_addr "$hp"
	assert_output "10.0.2.100"
}

@test "network: splice: 16 MiB arrive intact both ways through published ports" {
	local hp up want
	hp=$(free_port) && up=$(free_port) || fail "no free port"
	mkdir -p "$BUNDLE/rootfs/www"
	head -c 16777216 /dev/urandom >"$BUNDLE/rootfs/www/big"
	want=$(sha256sum <"$BUNDLE/rootfs/www/big")
	# host -> container: nc; container -> host: httpd serving the file
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:80" -p "127.0.0.1:$up:81" -- \
		sh -c 'httpd -p 81 -h /www; sleep 30 | nc -l -p 80 >/down'
	listening 80 "$CPID" && listening 81 "$CPID" || fail "the container's servers did not listen"
	timeout 30 busybox nc 127.0.0.1 "$hp" <"$BUNDLE/rootfs/www/big" >/dev/null
	wait_size "$BUNDLE/rootfs/down" 16777216 || fail "$(stat -c %s "$BUNDLE/rootfs/down") of 16777216 bytes arrived in the container"
	[ "$(sha256sum <"$BUNDLE/rootfs/down")" = "$want" ] || fail "the container got other bytes"
	timeout 30 python3 -c 'import sys, urllib.request
sys.stdout.buffer.write(urllib.request.urlopen("http://127.0.0.1:%s/big" % sys.argv[1], timeout=20).read())' \
		"$up" >"$BATS_TEST_TMPDIR/up" || fail "GET /big through 127.0.0.1:$up failed"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/up")" = 16777216 ] || fail "$(stat -c %s "$BATS_TEST_TMPDIR/up") of 16777216 bytes arrived on the host"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/up")" = "$want" ] || fail "the host got other bytes"
}

@test "network: splice: a client that shuts down its sending side still gets the answer" {
	local hp
	hp=$(free_port) || fail "no free port"
	# wc answers only after EOF: the half-close must reach the container.
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:81" -- nc -ll -p 81 -e wc -c
	listening 81 "$CPID" || fail "the container's nc did not listen"
	run timeout 15 python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"x" * 1048576)
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
print(data.decode().strip())' "$hp"
	assert_success
	assert_output "1048576"
}

@test "network: splice: urgent data neither stalls nor spins the relay" {
	local hp before after
	hp=$(free_port) || fail "no free port"
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:81" -- nc -ll -p 81 -e wc -c
	listening 81 "$CPID" || fail "the container's nc did not listen"
	before=$(awk '{ print $14 + $15 }' "/proc/$HPID/stat")
	# splice(2) stops at an urgent mark; the byte travels inline.
	run timeout 15 python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"abc")
time.sleep(0.2)
s.send(b"!", socket.MSG_OOB)
time.sleep(0.5)
s.sendall(b"def")
s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode().strip())' "$hp"
	assert_success
	assert_output "7"
	after=$(awk '{ print $14 + $15 }' "/proc/$HPID/stat")
	[ $((after - before)) -lt 30 ] || fail "the helper used $((after - before)) ticks of CPU for 7 bytes"
}

@test "network: splice: a refused connection in the container closes the client's; the helper goes on" {
	local hp cp
	hp=$(free_port) && cp=$(free_port) || fail "no free port"
	www
	# Nothing listens on port 81 in the container.
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:80" -p "127.0.0.1:$cp:81" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer"
	run timeout 15 python3 -c 'import socket, sys, time
for i in range(5):
    t = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        got = "closed after %d bytes" % len(s.recv(100))
    except (ConnectionResetError, BrokenPipeError):
        got = "reset"
    if time.monotonic() - t > 3:
        got += " (slow)"
    print(got)' "$cp"
	assert_success
	refute_output --partial "slow"
	refute_output --regexp "after [1-9]"
	pid_alive "$HPID" || fail "the helper died"
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "the other forward stopped answering"
}

@test "network: splice: connections leave no fd behind; after delete no helper and no socket factory" {
	local hp cp factory before now i
	hp=$(free_port) && cp=$(free_port) || fail "no free port"
	www
	net_run_d --network slirp --port-handler splice -p "127.0.0.1:$hp:80" -p "127.0.0.1:$cp:81" -- httpd -f -p 80 -h /www
	wait_http 127.0.0.1 "$hp" "hello from the container" || fail "published port $hp did not answer"
	factory=$(pgrep -P "$HPID")
	[ -n "$factory" ] || fail "no socket factory under helper $HPID"
	before=$(ls "/proc/$HPID/fd" | wc -l)
	# complete GETs, clients that give up at once, refused connections
	timeout 60 python3 -c 'import socket, sys
hp, cp = int(sys.argv[1]), int(sys.argv[2])
for i in range(40):
    s = socket.create_connection(("127.0.0.1", hp), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
for i in range(10):
    socket.create_connection(("127.0.0.1", hp), timeout=5).close()
for i in range(10):
    try:
        s = socket.create_connection(("127.0.0.1", cp), timeout=5)
        s.recv(10)
    except OSError:
        pass' "$hp" "$cp" || fail "the clients failed"
	for ((i = 0; i < 50; i++)); do
		now=$(ls "/proc/$HPID/fd" | wc -l)
		[ "$now" -eq "$before" ] && break
		sleep 0.1
	done
	[ "$now" -eq "$before" ] || fail "helper $HPID has $now fds after the connections, $before before: $(ls -l "/proc/$HPID/fd")"
	run runtime delete --force "$CID"
	assert_success
	wait_pid_gone "$HPID" 5 || fail "helper $HPID survived delete --force"
	wait_pid_gone "$factory" 5 || fail "socket factory $factory survived delete --force"
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper process left: $(helpers_of_container "$CID")"
}

@test "network: splice: the socket factory has no capabilities, no_new_privs and seccomp, and is not dumpable" {
	net_run_d --network slirp --port-handler splice -- sleep 1000
	local factory
	factory=$(pgrep -P "$HPID")
	[ -n "$factory" ] || fail "no socket factory under helper $HPID"
	# Not dumpable: its namespaces are closed even to its own user (that
	# they are the container's, the splice tests above show).
	readlink "/proc/$factory/ns/net" >/dev/null 2>&1 && fail "the socket factory is dumpable"
	run grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' "/proc/$factory/status"
	assert_line --regexp '^CapEff:[[:space:]]+0+$'
	assert_line --regexp '^CapPrm:[[:space:]]+0+$'
	assert_line --regexp '^CapBnd:[[:space:]]+0+$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	# --port-handler slirp starts none
	runtime delete --force "$CID"
	net_run_d --network slirp --port-handler slirp -- sleep 1000
	[ -z "$(pgrep -P "$HPID")" ] || fail "a socket factory with --port-handler slirp: $(pgrep -a -P "$HPID")"
}

# ---- --forward-host: the container's loopback to one host port -----------

# get_cmd ADDR PORT [PATH]: a shell command for the container that prints
# the answer (header too) to GET PATH from ADDR:PORT.
get_cmd() {
	printf 'printf "GET %s HTTP/1.0\\r\\n\\r\\n" | nc -w 20 %s %s' "${3:-/}" "$1" "$2"
}

# host_http PORT DIR: python3's http.server on the host's 127.0.0.1 only
# (not 0.0.0.0), serving DIR, for 60 s at most.
host_http() {
	timeout 60 python3 -m http.server --bind 127.0.0.1 --directory "$2" "$1" </dev/null >/dev/null 2>&1 &
	HOST_PIDS+=($!)
	listening "$1" || fail "host HTTP server on 127.0.0.1:$1 did not listen"
}

@test "network: --forward-host: the container's 127.0.0.1:CPORT reaches a host server on 127.0.0.1, without host loopback" {
	local hp cp factory
	hp=$(free_port) && cp=$(free_port) || fail "no free port"
	mkdir -p "$BATS_TEST_TMPDIR/site"
	echo "hello from the host" >"$BATS_TEST_TMPDIR/site/index.html"
	host_http "$hp" "$BATS_TEST_TMPDIR/site"
	# The listener exists before the process starts: no wait inside.
	# (busybox wget of the fixture crashes; nc speaks HTTP/1.0 here.)
	net_run --network slirp --forward-host "$cp:$hp" -- \
		sh -c "$(get_cmd 127.0.0.1 "$cp"); echo | nc -w 3 10.0.2.2 $hp; echo direct=\$?"
	assert_success
	assert_line "hello from the host"
	# Only that port: the rest of the host's loopback stays out of reach.
	assert_line "direct=1"
	# The annotation, with libslirp for published ports (the socket
	# factory then starts for --forward-host alone); deleted, nothing stays.
	update_config '.annotations["run.oci.ocirt.forward-host"] = "127.0.0.1:'"$cp:$hp"'/tcp"'
	net_run_d --network slirp --port-handler slirp -- sleep 1000
	factory=$(pgrep -P "$HPID")
	[ -n "$factory" ] || fail "no socket factory under helper $HPID"
	[ "$(jq -r '.extra.network.forward_host[0]' "$ROOT/$CID/state.json")" = "127.0.0.1:$cp:$hp/tcp" ] ||
		fail "state.json does not record the forward: $(jq -c .extra.network "$ROOT/$CID/state.json")"
	run runtime exec "$CID" sh -c "$(get_cmd 127.0.0.1 "$cp")"
	assert_success
	assert_line "hello from the host"
	run runtime delete --force "$CID"
	assert_success
	wait_pid_gone "$HPID" 5 || fail "helper $HPID survived delete --force"
	wait_pid_gone "$factory" 5 || fail "socket factory $factory survived delete --force"
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper process left: $(helpers_of_container "$CID")"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: --forward-host: IPv6: the container's [::1]:CPORT reaches the host's [::1]:HOSTPORT" {
	local hp cp
	[ -e /proc/net/if_inet6 ] || skip "no IPv6 on the host"
	hp=$(free_port) && cp=$(free_port) || fail "no free port"
	mkdir -p "$BATS_TEST_TMPDIR/site"
	echo "hello over ::1" >"$BATS_TEST_TMPDIR/site/index.html"
	timeout 60 python3 -m http.server --bind ::1 --directory "$BATS_TEST_TMPDIR/site" "$hp" </dev/null >/dev/null 2>&1 &
	HOST_PIDS+=($!)
	listening "$hp" || fail "host HTTP server on [::1]:$hp did not listen"
	net_run --network slirp --forward-host "[::1]:$cp:$hp" -- sh -c "$(get_cmd ::1 "$cp")"
	assert_success
	assert_line "hello over ::1"
}

@test "network: --forward-host: 16 MiB arrive intact both ways" {
	local hp sp cp1 cp2 want
	hp=$(free_port) && sp=$(free_port) && cp1=$(free_port) && cp2=$(free_port) || fail "no free port"
	mkdir -p "$BATS_TEST_TMPDIR/site"
	head -c 16777216 /dev/urandom >"$BATS_TEST_TMPDIR/site/big"
	cp "$BATS_TEST_TMPDIR/site/big" "$BUNDLE/rootfs/big"
	want=$(sha256sum <"$BUNDLE/rootfs/big")
	# container -> host: a sink on the host; host -> container: a GET
	(sleep 30 | timeout 30 busybox nc -l -p "$sp" >"$BATS_TEST_TMPDIR/up") >/dev/null 2>&1 &
	HOST_PIDS+=($!)
	listening "$sp" || fail "host sink on $sp did not listen"
	host_http "$hp" "$BATS_TEST_TMPDIR/site"
	net_run --network slirp --forward-host "$cp1:$sp" --forward-host "$cp2:$hp" -- \
		sh -c "nc 127.0.0.1 $cp1 </big && $(get_cmd 127.0.0.1 "$cp2" /big) >/down"
	assert_success
	wait_size "$BATS_TEST_TMPDIR/up" 16777216 || fail "$(stat -c %s "$BATS_TEST_TMPDIR/up") of 16777216 bytes arrived on the host"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/up")" = "$want" ] || fail "the host got other bytes"
	# the body after the answer's header
	python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(d[d.index(b"\r\n\r\n") + 4:])' "$BUNDLE/rootfs/down" >"$BATS_TEST_TMPDIR/down" ||
		fail "no HTTP answer arrived in the container"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/down")" = 16777216 ] || fail "$(stat -c %s "$BATS_TEST_TMPDIR/down") of 16777216 bytes arrived in the container"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/down")" = "$want" ] || fail "the container got other bytes"
}

@test "network: --forward-host: nothing on the host port closes the container's connection; the helper goes on" {
	local hp dead cp1 cp2
	hp=$(free_port) && dead=$(free_port) && cp1=$(free_port) && cp2=$(free_port) || fail "no free port"
	mkdir -p "$BATS_TEST_TMPDIR/site"
	echo "still here" >"$BATS_TEST_TMPDIR/site/index.html"
	host_http "$hp" "$BATS_TEST_TMPDIR/site"
	net_run_d --network slirp --forward-host "$cp1:$dead" --forward-host "$cp2:$hp" -- sleep 1000
	# 5 tries, each must end (reset or EOF) without data and well within
	# nc's own 5 s timeout.
	run runtime exec "$CID" sh -c "
		for i in 1 2 3 4 5; do
			s=\$(date +%s)
			echo hi | nc -w 5 127.0.0.1 $cp1
			echo \"rc=\$? secs=\$((\$(date +%s) - s))\"
		done"
	assert_success
	refute_output --regexp "secs=[3-9]"
	[ "$(grep -c '^rc=' <<<"$output")" -eq 5 ] || fail "not 5 attempts: $output"
	pid_alive "$HPID" || fail "the helper died"
	run runtime exec "$CID" sh -c "$(get_cmd 127.0.0.1 "$cp2")"
	assert_success
	assert_line "still here"
}

@test "network: --forward-host: a container port used twice, a foreign address or a port below 1024 is named; nothing is left behind" {
	local cp
	cp=$(free_port) || fail "no free port"
	set_args true
	run --separate-stderr runtime run --network slirp --forward-host "$cp:20001" --forward-host "$cp:20002" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--forward-host" "port $cp/tcp is already in use in the container"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper left: $(helpers_of_container "$CID")"
	# An address the container does not have
	run --separate-stderr runtime run --network slirp --forward-host "192.0.2.1:$cp:20001" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--forward-host" "not the container's"
	# A privileged port: the factory that binds it has no capabilities.
	run --separate-stderr runtime run --network slirp --forward-host "80:20001" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--forward-host" "port 80 is below the container's net.ipv4.ip_unprivileged_port_start"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: bad --forward-host and run.oci.ocirt.forward-host values fail before anything is created" {
	local bad
	set_args true
	for bad in 80 8080:80/udp 8080:0 a:1:2 ::1:8080:80 1:2:3:4; do
		run --separate-stderr runtime run --network slirp --forward-host "$bad" --bundle "$BUNDLE" "$CID" </dev/null
		assert_runtime_error "--forward-host" "$(printf '%s' "$bad" | sed 's/[][.*^$]/\\&/g')"
	done
	run --separate-stderr runtime run --forward-host 8080:80 --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--forward-host needs --network slirp"
	update_config '.annotations["run.oci.ocirt.forward-host"] = "8080:80, 9090"'
	run --separate-stderr runtime run --network slirp --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "run.oci.ocirt.forward-host" "9090"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: a bad --port-handler or run.oci.ocirt.port-handler fails before anything is created" {
	set_args true
	run --separate-stderr runtime run --network slirp --port-handler kernel --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--port-handler" "not splice or slirp"
	run --separate-stderr runtime run --port-handler splice --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--port-handler needs --network slirp"
	update_config '.annotations["run.oci.ocirt.port-handler"] = "pasta"'
	run --separate-stderr runtime run --network slirp --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "run.oci.ocirt.port-handler" "not splice or slirp"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: port on a container without --network slirp says so" {
	start_detached sleep 1000
	run --separate-stderr runtime port list "$CID"
	assert_runtime_error "has no network helper" "--network slirp"
}

@test "network: the helper is sandboxed: empty root, no capabilities, seccomp, no_new_privs" {
	net_run_d --network slirp -- sleep 1000
	pid_alive "$HPID" || fail "helper $HPID not running"
	run grep -E '^(CapEff|CapPrm|NoNewPrivs|Seccomp):' "/proc/$HPID/status"
	assert_line --regexp '^CapEff:[[:space:]]+0+$'
	assert_line --regexp '^CapPrm:[[:space:]]+0+$'
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	run ls -A "/proc/$HPID/root/"
	assert_success
	assert_output "$(printf 'etc\nrun')"
}

@test "network: delete of a created container stops the helper and removes its socket" {
	set_args sleep 1000
	run_detached create --network slirp --bundle "$BUNDLE" "$CID"
	assert_success
	HPID=$(helper_pid)
	HELPER_PIDS+=("$HPID")
	pid_alive "$HPID" || fail "helper $HPID not running after create"
	[ -S "$ROOT/$CID/net.sock" ] || fail "no API socket after create"
	run runtime delete "$CID"
	assert_success
	wait_pid_gone "$HPID" 5 || fail "helper $HPID survived delete"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left: $(ls -A "$ROOT/$CID")"
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper process left: $(helpers_of_container "$CID")"
}

@test "network: delete --force of a running container stops the helper" {
	net_run_d --network slirp -- sleep 1000
	run runtime delete --force "$CID"
	assert_success
	wait_pid_gone "$HPID" 5 || fail "helper $HPID survived delete --force"
	wait_pid_gone "$CPID" 5 || fail "container init $CPID survived delete --force"
}

@test "network: a killed runtime leaves no helper: delete --force finds it in the state" {
	local rpid i
	set_args sleep 1000
	"$OCIRT" --root "$ROOT" run --network slirp --bundle "$BUNDLE" "$CID" </dev/null \
		>"$BATS_TEST_TMPDIR/fg.out" 2>"$BATS_TEST_TMPDIR/fg.err" &
	rpid=$!
	wait_for_status "$CID" running 10 || fail "container did not start: $(cat "$BATS_TEST_TMPDIR/fg.err")"
	CPID=$(state_field "$CID" .pid)
	TRACKED_PIDS+=("$CPID")
	HPID=$(helper_pid)
	HELPER_PIDS+=("$HPID")
	kill -9 "$rpid"
	wait "$rpid" 2>/dev/null || true
	pid_alive "$HPID" || fail "the helper died with the runtime (it should serve the still running container)"
	run runtime delete --force "$CID"
	assert_success
	wait_pid_gone "$HPID" 5 || fail "helper $HPID survived delete --force"
	for ((i = 0; i < 20; i++)); do
		[ -z "$(helpers_of_container "$CID")" ] && break
		sleep 0.1
	done
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper left: $(helpers_of_container "$CID")"
}

@test "network: the helper exits when the container's init goes away" {
	net_run_d --network slirp -- sleep 1000
	kill -9 "$CPID"
	wait_pid_gone "$HPID" 5 || fail "helper $HPID still runs after the container's init was killed"
	run runtime delete "$CID"
	assert_success
}

@test "network: a host port already in use is named; nothing is left behind" {
	local hp
	hp=$(free_port) || fail "no free port"
	host_server "$hp" "taken"
	set_args true
	run --separate-stderr runtime run --network slirp -p "127.0.0.1:$hp:80" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "host port $hp/tcp is already in use"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
	[ -z "$(helpers_of_container "$CID")" ] || fail "helper left: $(helpers_of_container "$CID")"
}

@test "network: a host port below net.ipv4.ip_unprivileged_port_start names the sysctl" {
	local start
	start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	[ "$start" -gt 1 ] || skip "net.ipv4.ip_unprivileged_port_start is $start: every port is unprivileged here"
	set_args true
	run --separate-stderr runtime run --network slirp -p "127.0.0.1:$((start - 1)):80" --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "host port $((start - 1)) is below net.ipv4.ip_unprivileged_port_start \($start\)"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: bad --publish, --mtu and --network values fail before anything is created" {
	local bad
	set_args true
	for bad in 80 8080:80:90:100 1.2.3:8080:80 8080:80/sctp 8080:0 70000:80 ::1:8080:80 "[::1:8080:80" a:80; do
		run --separate-stderr runtime run --network slirp -p "$bad" --bundle "$BUNDLE" "$CID" </dev/null
		assert_runtime_error "--publish" "$(printf '%s' "$bad" | sed 's/[][.*^$]/\\&/g')"
	done
	run --separate-stderr runtime run --network slirp --mtu 10 --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--mtu" "576\.\.65521"
	run --separate-stderr runtime run --network bridge --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--network" "not slirp or none"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: --publish without --network slirp is refused" {
	set_args true
	run --separate-stderr runtime run -p 18080:80 --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "--publish needs --network slirp"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: slirp without a network namespace in the config is a clear error" {
	update_config '.linux.namespaces |= map(select(.type != "network"))'
	set_args true
	run --separate-stderr runtime run --network slirp --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error 'needs a network namespace of its own' 'linux.namespaces'
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}

@test "network: a config that joins a network namespace (Podman) never gets a helper" {
	local nspid i
	# A user + network namespace made elsewhere, as Podman makes them; the
	# container joins both by path.
	unshare -Urn sleep 60 &
	nspid=$!
	HOST_PIDS+=("$nspid")
	for ((i = 0; i < 40; i++)); do
		[ "$(readlink "/proc/$nspid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.05
	done
	update_config 'del(.linux.uidMappings, .linux.gidMappings)
		| .linux.namespaces |= map(if .type == "network" then .path = $n
			elif .type == "user" then .path = $u else . end)' \
		--arg n "/proc/$nspid/ns/net" --arg u "/proc/$nspid/ns/user"
	set_args true
	run --separate-stderr runtime run --network slirp --bundle "$BUNDLE" "$CID" </dev/null
	assert_runtime_error "joins the network namespace" "leave out --network slirp"
	update_config '.annotations["run.oci.ocirt.network"] = "slirp"'
	net_run -- cat /proc/net/dev
	assert_success
	run awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$output"
	assert_output "lo"
}

@test "network: /dev/net/tun missing or not accessible names the device and the fix" {
	command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
	unshare -Urm true 2>/dev/null || skip "no unprivileged user + mount namespace here"
	# Inside a user namespace of our own (its root is us), hide the device,
	# then put a file there that we may not write (as a 0600 root device).
	update_config '.linux.uidMappings = [{containerID: 0, hostID: 0, size: 1}]
		| .linux.gidMappings = [{containerID: 0, hostID: 0, size: 1}]'
	set_args true
	run --separate-stderr unshare -Urm sh -c 'mount -t tmpfs none /dev/net && exec "$@"' _ \
		timeout 20 "$OCIRT" --root "$ROOT" run --network slirp --bundle "$BUNDLE" "$CID"
	assert_runtime_error "/dev/net/tun is missing" "modprobe tun"
	run --separate-stderr unshare -Urm sh -c 'mount --bind /etc/passwd /dev/net/tun && exec "$@"' _ \
		timeout 20 "$OCIRT" --root "$ROOT" run --network slirp --bundle "$BUNDLE" "$CID"
	assert_runtime_error "/dev/net/tun is not accessible" "chmod 0666 /dev/net/tun"
	[ ! -e "$ROOT/$CID" ] || fail "state dir left"
}
