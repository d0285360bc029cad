/* DNS to the virtual nameserver (10.0.2.3, fd00::3), forwarded to an
 * upstream the runtime names (annotation run.oci.ocirt.dns-upstream).
 *
 * libslirp forwards those queries to the first nameserver of the host's
 * /etc/resolv.conf, a path compiled into it, always to port 53; it has
 * no setting for another target. So when an upstream is given, the
 * helper takes UDP queries to the virtual nameserver off the tap before
 * libslirp sees them: each goes out on a socket of its own, connected to
 * the upstream (only the upstream can answer it; the kernel picks a
 * random source port), and the answer goes back to the container as a
 * frame from the virtual nameserver. Queries wait at most
 * DNS_TIMEOUT_MS; at most DNS_PENDING_MAX wait at once (the oldest gives
 * way). TCP queries (after a truncated answer) still go through libslirp
 * to the host's resolver. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"
#include "utils.h"

#define DNS_PORT 53
#define DNS_PENDING_MAX 64
#define DNS_TIMEOUT_MS 5000
#define ETH_HLEN_ 14
#define DNS_FRAME_MAX (ETH_HLEN_ + 40 + 8 + 65535)

struct dns_query {
	int fd; /* -1: free */
	int family;
	uint8_t mac_guest[6], mac_vdns[6];
	uint8_t guest[16], vdns[16];
	uint16_t guest_port;
	int64_t deadline; /* ms */
	int poll_idx; /* in the poll array of this turn, or -1 */
};

struct dns_proxy {
	struct sockaddr_storage upstream;
	socklen_t upstream_len;
	unsigned mtu;
	dns_send_fn send;
	void *opaque;
	struct dns_query q[DNS_PENDING_MAX];
	uint8_t *frame;
};

int dns_upstream_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, struct ocr_error *err)
{
	struct sockaddr_in *s4 = (void *)ret;
	struct sockaddr_in6 *s6 = (void *)ret;
	char addr[INET6_ADDRSTRLEN];
	const char *comma = strrchr(s, ',');
	uint64_t port;

	memset(ret, 0, sizeof(*ret));
	if (comma == NULL || (size_t)(comma - s) >= sizeof(addr) || parse_u64(comma + 1, &port) < 0 || port < 1 ||
	    port > 65535)
		return ocr_fail(err, EINVAL, "--dns-upstream `%s`: not ADDR,PORT", s);
	memcpy(addr, s, (size_t)(comma - s));
	addr[comma - s] = '\0';
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*s6);
	} else {
		return ocr_fail(err, EINVAL, "--dns-upstream `%s`: `%s` is not an IP address", s, addr);
	}
	return 0;
}

struct dns_proxy *dns_proxy_new(const struct sockaddr_storage *upstream, socklen_t len, unsigned mtu, dns_send_fn send,
				void *opaque)
{
	struct dns_proxy *d = xcalloc(1, sizeof(*d));

	memcpy(&d->upstream, upstream, len);
	d->upstream_len = len;
	d->mtu = mtu;
	d->send = send;
	d->opaque = opaque;
	for (size_t i = 0; i < DNS_PENDING_MAX; i++)
		d->q[i].fd = -1;
	d->frame = xcalloc(1, DNS_FRAME_MAX);
	return d;
}

static void query_end(struct dns_query *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
}

void dns_proxy_free(struct dns_proxy *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < DNS_PENDING_MAX; i++)
		query_end(&d->q[i]);
	free(d->frame);
	free(d);
}

static bool is_vdns(const struct udp_view *v)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (v->dport != DNS_PORT)
		return false;
	if (v->family == AF_INET) {
		inet_pton(AF_INET, NET_VDNS, &a4);
		return memcmp(v->dst, &a4, 4) == 0;
	}
	inet_pton(AF_INET6, NET_VDNS6, &a6);
	return memcmp(v->dst, &a6, 16) == 0;
}

/* A free slot, or the one that has waited longest. */
static struct dns_query *query_slot(struct dns_proxy *d)
{
	struct dns_query *oldest = &d->q[0];

	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		if (d->q[i].fd < 0)
			return &d->q[i];
		if (d->q[i].deadline < oldest->deadline)
			oldest = &d->q[i];
	}
	net_debug("dns: %d queries waiting; the oldest gives way", DNS_PENDING_MAX);
	query_end(oldest);
	return oldest;
}

bool dns_proxy_query(struct dns_proxy *d, const uint8_t *frame, size_t len, int64_t now)
{
	struct udp_view v;
	struct dns_query *q;
	size_t alen;
	int fd;

	if (!udp_parse(frame, len, &v) || !is_vdns(&v))
		return false;
	fd = socket(d->upstream.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&d->upstream, d->upstream_len) < 0 ||
	    send(fd, v.payload, v.len, 0) < 0) {
		net_debug("dns: query to the upstream: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return true; /* dropped, as a lost datagram: the client asks again */
	}
	q = query_slot(d);
	alen = v.family == AF_INET6 ? 16 : 4;
	q->fd = fd;
	q->family = v.family;
	memcpy(q->mac_guest, frame + 6, 6);
	memcpy(q->mac_vdns, frame, 6);
	memcpy(q->guest, v.src, alen);
	memcpy(q->vdns, v.dst, alen);
	q->guest_port = v.sport;
	q->deadline = now + DNS_TIMEOUT_MS;
	q->poll_idx = -1;
	return true;
}

void dns_proxy_fill(struct dns_proxy *d, GArray *pollfds, uint32_t *timeout, int64_t now)
{
	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		struct dns_query *q = &d->q[i];
		GPollFD p = {.fd = q->fd, .events = G_IO_IN};
		q->poll_idx = -1;
		if (q->fd >= 0 && q->deadline <= now) {
			net_debug("dns: no answer from the upstream within %d ms", DNS_TIMEOUT_MS);
			query_end(q);
		}
		if (q->fd < 0)
			continue;
		if ((uint64_t)(q->deadline - now) < *timeout)
			*timeout = (uint32_t)(q->deadline - now);
		q->poll_idx = (int)pollfds->len;
		g_array_append_val(pollfds, p);
	}
}

static uint16_t csum_add(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;

	return (uint16_t)((s & 0xffff) + (s >> 16));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The frame of an answer of N bytes (already at its place after the
 * headers) from the virtual nameserver to the query's sender. */
static size_t answer_frame(const struct dns_query *q, uint8_t *f, size_t n)
{
	bool v6 = q->family == AF_INET6;
	size_t alen = v6 ? 16 : 4, l3len = v6 ? 40 : 20;
	uint8_t *ip = f + ETH_HLEN_, *udp = ip + l3len, pseudo[40] = {0};
	uint16_t ulen = (uint16_t)(8 + n), sum;

	memcpy(f, q->mac_guest, 6);
	memcpy(f + 6, q->mac_vdns, 6);
	put16(f + 12, v6 ? 0x86dd : 0x0800);
	memset(ip, 0, l3len);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, ulen);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, q->vdns, 16);
		memcpy(ip + 24, q->guest, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + ulen));
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, q->vdns, 4);
		memcpy(ip + 16, q->guest, 4);
		sum = (uint16_t)~net_csum(ip, 20);
		memcpy(ip + 10, &sum, 2);
	}
	put16(udp, DNS_PORT);
	put16(udp + 2, q->guest_port);
	put16(udp + 4, ulen);
	put16(udp + 6, 0);
	/* Pseudo-header: addresses, protocol, UDP length (RFC 768, 8200). */
	memcpy(pseudo, q->vdns, alen);
	memcpy(pseudo + alen, q->guest, alen);
	pseudo[2 * alen + (v6 ? 7 : 1)] = IPPROTO_UDP;
	put16(pseudo + 2 * alen + (v6 ? 4 : 2), ulen);
	sum = (uint16_t)~csum_add(net_csum(pseudo, v6 ? 40 : 12), net_csum(udp, ulen));
	if (sum == 0)
		sum = 0xffff; /* 0 would mean "no checksum" */
	memcpy(udp + 6, &sum, 2);
	return ETH_HLEN_ + l3len + ulen;
}

static void query_answer(struct dns_proxy *d, struct dns_query *q)
{
	size_t l3len = q->family == AF_INET6 ? 40 : 20, room = ETH_HLEN_ + l3len + 8;
	ssize_t n = recv(q->fd, d->frame + room, DNS_FRAME_MAX - room, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		/* ECONNREFUSED: nothing listens there; the client times out
		 * as it would with a silent server. */
		net_debug("dns: upstream: %s", strerror(errno));
	} else if (l3len + 8 + (size_t)n > d->mtu) {
		net_debug("dns: an answer of %zd bytes exceeds the MTU (%u); dropped", n, d->mtu);
	} else {
		size_t len = answer_frame(q, d->frame, (size_t)n);
		if (d->send(d->frame, len, d->opaque) < 0)
			net_debug("dns: answer to the container: %s", strerror(errno));
	}
	query_end(q);
}

void dns_proxy_poll(struct dns_proxy *d, const GArray *pollfds)
{
	for (size_t i = 0; i < DNS_PENDING_MAX; i++) {
		struct dns_query *q = &d->q[i];
		if (q->fd >= 0 && q->poll_idx >= 0 && (guint)q->poll_idx < pollfds->len &&
		    g_array_index(pollfds, GPollFD, q->poll_idx).revents)
			query_answer(d, q);
	}
}
