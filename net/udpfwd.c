/* Answers of published UDP ports to clients on the host's loopback.
 *
 * libslirp presents a loopback client of a forwarded UDP port to the
 * container as the gateway (10.0.2.2 / fd00::2). With host loopback
 * disabled it then drops every datagram to the gateway, the container's
 * answers included (podman#4586): UDP forwards would be one-way for local
 * clients. So, only while host loopback is disabled, the helper tracks
 * which gateway ports sent datagrams to a forwarded container port (in
 * send_packet) and delivers the container's answers from that port back
 * to those gateway ports itself: from the forward's own host socket to
 * 127.0.0.1 or ::1, where libslirp would send them with loopback allowed.
 * Any other datagram to the gateway still goes to libslirp, which refuses
 * it. */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "net.h"
#include "utils.h"

#define ETH_HLEN_ 14
#define SESSION_MAX 1024
#define SESSION_TTL_SEC 240 /* as libslirp's UDP sockets */

struct udp_session {
	int family;
	uint16_t gw_port; /* the client's port, as the container sees it */
	uint16_t guest_port; /* the forwarded container port */
	int64_t seen; /* CLOCK_MONOTONIC seconds; 0: free */
};

struct udp_sessions {
	struct udp_session s[SESSION_MAX];
};

static int64_t now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1;
}

bool udp_parse(const uint8_t *f, size_t n, struct udp_view *v)
{
	const uint8_t *l3 = f + ETH_HLEN_, *l4;
	uint16_t type, ulen;

	if (n < ETH_HLEN_ + 20 + 8)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == 0x0800) {
		const struct ip *ip = (const void *)l3;
		size_t hl = (size_t)ip->ip_hl * 4;
		if (ip->ip_v != 4 || ip->ip_p != IPPROTO_UDP || hl < 20 || (ntohs(ip->ip_off) & (IP_MF | IP_OFFMASK)))
			return false;
		v->family = AF_INET;
		v->src = l3 + 12;
		v->dst = l3 + 16;
		l4 = l3 + hl;
	} else if (type == 0x86dd) {
		const struct ip6_hdr *ip6 = (const void *)l3;
		if (n < ETH_HLEN_ + 40 + 8 || (l3[0] >> 4) != 6 || ip6->ip6_nxt != IPPROTO_UDP)
			return false;
		v->family = AF_INET6;
		v->src = l3 + 8;
		v->dst = l3 + 24;
		l4 = l3 + 40;
	} else {
		return false;
	}
	if (l4 + 8 > f + n)
		return false;
	v->sport = (uint16_t)(l4[0] << 8 | l4[1]);
	v->dport = (uint16_t)(l4[2] << 8 | l4[3]);
	ulen = (uint16_t)(l4[4] << 8 | l4[5]);
	if (ulen < 8 || l4 + ulen > f + n)
		return false;
	v->payload = l4 + 8;
	v->len = ulen - 8u;
	return true;
}

static bool is_gateway(const struct udp_view *v, const uint8_t *addr)
{
	struct in6_addr gw6;
	struct in_addr gw4;

	if (v->family == AF_INET) {
		inet_pton(AF_INET, NET_VHOST, &gw4);
		return memcmp(addr, &gw4, 4) == 0;
	}
	inet_pton(AF_INET6, NET_VHOST6, &gw6);
	return memcmp(addr, &gw6, 16) == 0;
}

static uint16_t guest_port_of(const struct net_forward *f)
{
	return f->family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)&f->guest)->sin6_port)
				     : ntohs(((const struct sockaddr_in *)&f->guest)->sin_port);
}

static const struct net_forward *udp_forward_to(const struct net_forward *fw, size_t n, int family, uint16_t guest_port)
{
	for (size_t i = 0; i < n; i++)
		if (fw[i].udp && fw[i].family == family && guest_port_of(&fw[i]) == guest_port)
			return &fw[i];
	return NULL;
}

struct udp_sessions *udp_sessions_new(void)
{
	return xcalloc(1, sizeof(struct udp_sessions));
}

void udp_sessions_free(struct udp_sessions *t)
{
	free(t);
}

static struct udp_session *session_find(struct udp_sessions *t, int family, uint16_t gw_port, uint16_t guest_port)
{
	int64_t now = now_sec();

	for (size_t i = 0; i < SESSION_MAX; i++) {
		struct udp_session *s = &t->s[i];
		if (s->seen && now - s->seen > SESSION_TTL_SEC)
			s->seen = 0;
		if (s->seen && s->family == family && s->gw_port == gw_port && s->guest_port == guest_port)
			return s;
	}
	return NULL;
}

/* A frame libslirp sends to the container. */
void udp_sessions_note(struct udp_sessions *t, const struct net_forward *fw, size_t n, const uint8_t *frame, size_t len)
{
	struct udp_view v;
	struct udp_session *s, *oldest;

	if (!udp_parse(frame, len, &v) || !is_gateway(&v, v.src) || !udp_forward_to(fw, n, v.family, v.dport))
		return;
	s = session_find(t, v.family, v.sport, v.dport);
	if (s == NULL) {
		oldest = &t->s[0];
		for (size_t i = 0; i < SESSION_MAX && oldest->seen; i++)
			if (t->s[i].seen < oldest->seen)
				oldest = &t->s[i];
		s = oldest;
		s->family = v.family;
		s->gw_port = v.sport;
		s->guest_port = v.dport;
	}
	s->seen = now_sec();
}

/* The forward's own host socket among libslirp's fds: its address is the
 * one the client sent to, so the answer comes from there. */
static int forward_socket(const struct net_forward *f, const GPollFD *fds, size_t n_fds)
{
	socklen_t want = f->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	for (size_t i = 0; i < n_fds; i++) {
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a);
		int type = 0;
		socklen_t tlen = sizeof(type);
		if (getsockopt(fds[i].fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fds[i].fd, (struct sockaddr *)&a, &alen) < 0 || alen != want ||
		    a.ss_family != f->family)
			continue;
		if (f->family == AF_INET) {
			const struct sockaddr_in *x = (const void *)&a, *y = (const void *)&f->host;
			if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
				return fds[i].fd;
		} else {
			const struct sockaddr_in6 *x = (const void *)&a, *y = (const void *)&f->host;
			if (x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0)
				return fds[i].fd;
		}
	}
	return -1;
}

/* A frame from the container. Returns true when it was an answer of a
 * forward that we delivered (the caller then keeps it from libslirp). */
bool udp_sessions_answer(struct udp_sessions *t, const struct net_forward *fw, size_t n, const GPollFD *fds,
			 size_t n_fds, const uint8_t *frame, size_t len)
{
	struct udp_view v;
	const struct net_forward *f;
	struct sockaddr_storage to = {0};
	int fd;

	if (!udp_parse(frame, len, &v) || !is_gateway(&v, v.dst))
		return false;
	f = udp_forward_to(fw, n, v.family, v.sport);
	if (f == NULL || session_find(t, v.family, v.dport, v.sport) == NULL)
		return false;
	fd = forward_socket(f, fds, n_fds);
	if (fd < 0)
		return false;
	if (v.family == AF_INET) {
		struct sockaddr_in *s4 = (void *)&to;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(v.dport);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *s6 = (void *)&to;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(v.dport);
		s6->sin6_addr = in6addr_loopback;
	}
	if (sendto(fd, v.payload, v.len, MSG_DONTWAIT, (struct sockaddr *)&to,
		   v.family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0)
		net_debug("UDP answer to loopback port %u: %s", v.dport, strerror(errno));
	return true;
}
