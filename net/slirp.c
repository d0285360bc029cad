/* libslirp under a GLib poll loop: one const SlirpCb table with a named
 * function per callback, slirp_pollfds_fill -> g_poll ->
 * slirp_pollfds_poll, tap reads -> slirp_input, send_packet -> tap
 * writes. */
#include <arpa/inet.h>
#include <glib.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <signal.h>
#include <slirp/libslirp.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <time.h>

#include "net.h"
#include "utils.h"

/* The largest frame a tap gives us: MTU 65521, or a 64 KiB TSO segment,
 * plus the Ethernet and virtio-net headers. */
#define FRAME_MAX (65536 + 256)
#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* Frames read per wake-up before slirp gets to its sockets again. */
#define TAP_BATCH 64
/* The MSS both TCP stacks are told to use while offloads are on (SYN
 * options rewritten both ways, offload.c). libslirp has no window
 * scaling, so at most 65535 bytes are in flight each way: with an MSS of
 * 65480 (what MTU 65520 gives) one segment fills the window and each
 * sender waits a whole round trip, and Linux will not send into a window
 * smaller than its MSS. Two segments per window keep the pipe moving;
 * with offloads a segment costs no more frames for it. Measured in
 * bench/FINDINGS.md ("Rootless network"). */
#define MSS_CAP 32728
#define SYN_MAX 256 /* a SYN with every option fits */

struct net_timer {
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct net_timer *next;
};

struct net_loop {
	const struct net_config *cfg;
	Slirp *slirp;
	int tapfd, pidfd, sigfd;
	GArray *pollfds;
	struct net_timer *timers;
	uint8_t *frame;
	struct net_forward forwards[NET_MAX_FORWARDS];
	size_t n_forwards;
	int next_id;
	size_t n_udp_forwards;
	unsigned mss4, mss6; /* set SYNs' MSS to these (both ways); 0: leave */
	int64_t now; /* ms, CLOCK_MONOTONIC, read once per turn */
	int64_t last_frame; /* ms: a frame in or out */
	int64_t drain_deadline; /* ms; 0 while not stopping */
	int64_t drain_idle; /* stop after this many quiet ms */
	unsigned stop_signals;
	struct udp_sessions *udp; /* only while host loopback is disabled */
	struct dns_proxy *dns; /* only with an upstream resolver of its own */
	struct splice_handler *splice; /* TCP forwards, with --port-handler splice */
	size_t slirp_fds_end; /* libslirp's fds in pollfds end here */
	uint64_t tap_write_drops;
};

/* Fixed slots at the start of pollfds; slirp's sockets follow. */
enum { SLOT_TAP, SLOT_PID, SLOT_SIG, SLOT_API, SLOT_SPLICE, N_SLOTS };

/* ---- SlirpCb ---------------------------------------------------------- */

static int64_t cb_clock_get_ns(void *opaque);

static int64_t now_ms(void)
{
	return cb_clock_get_ns(NULL) / 1000000;
}

/* A TCP SYN (IPv4 or IPv6, no extension headers): cheap test, done for
 * every frame to the container. */
static bool is_tcp_syn(const uint8_t *f, size_t len)
{
	if (len >= 14 + 20 + 20 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == IPPROTO_TCP) {
		size_t th = 14 + (size_t)(f[14] & 0xf) * 4;
		return th + 20 <= len && (f[th + 13] & 0x02);
	}
	if (len >= 14 + 40 + 20 && f[12] == 0x86 && f[13] == 0xdd && f[14 + 6] == IPPROTO_TCP)
		return f[14 + 40 + 13] & 0x02;
	return false;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_loop *l = opaque;
	ssize_t n;

	if (l->udp && l->n_udp_forwards)
		udp_sessions_note(l->udp, l->forwards, l->n_forwards, buf, len);
	l->last_frame = l->now;
	if (l->cfg->offload) {
		struct virtio_net_hdr h;
		struct iovec iov[2] = {{&h, VNET_HDR_LEN}, {(void *)buf, len}};
		uint8_t syn[SYN_MAX];
		if (l->mss4 && len <= sizeof(syn) && is_tcp_syn(buf, len)) {
			memcpy(syn, buf, len);
			offload_syn_to_guest(syn, len, l->mss4, l->mss6);
			iov[1].iov_base = syn;
		}
		offload_to_guest(buf, len, l->cfg->mtu, &h);
		n = TEMP_FAILURE_RETRY(writev(l->tapfd, iov, 2));
		if (n >= (ssize_t)VNET_HDR_LEN)
			n -= (ssize_t)VNET_HDR_LEN;
	} else {
		n = TEMP_FAILURE_RETRY(write(l->tapfd, buf, len));
	}

	/* A full tap queue drops the frame: TCP retransmits it, as on a
	 * real link. */
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		l->tap_write_drops++;
		return (ssize_t)len;
	}
	return n;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	net_debug("libslirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_loop *l = opaque;
	struct net_timer *t = g_new0(struct net_timer, 1);

	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = l->timers;
	l->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_loop *l = opaque;

	for (struct net_timer **p = &l->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			g_free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	((struct net_timer *)timer)->expire_ms = expire_ms;
}

/* Our loop collects the fds afresh on every turn: nothing to register. */
static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque;
}

/* Single-threaded: the loop comes back to slirp_pollfds_fill anyway. */
static void cb_notify(void *opaque)
{
	(void)opaque;
}

static void cb_init_completed(Slirp *slirp, void *opaque)
{
	struct net_loop *l = opaque;
	l->slirp = slirp;
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.init_completed = cb_init_completed,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- poll glue -------------------------------------------------------- */

static int poll_to_gio(int events)
{
	int r = 0;

	if (events & SLIRP_POLL_IN)
		r |= G_IO_IN;
	if (events & SLIRP_POLL_OUT)
		r |= G_IO_OUT;
	if (events & SLIRP_POLL_PRI)
		r |= G_IO_PRI;
	if (events & SLIRP_POLL_ERR)
		r |= G_IO_ERR;
	if (events & SLIRP_POLL_HUP)
		r |= G_IO_HUP;
	return r;
}

static int gio_to_poll(int events)
{
	int r = 0;

	if (events & G_IO_IN)
		r |= SLIRP_POLL_IN;
	if (events & G_IO_OUT)
		r |= SLIRP_POLL_OUT;
	if (events & G_IO_PRI)
		r |= SLIRP_POLL_PRI;
	if (events & G_IO_ERR)
		r |= SLIRP_POLL_ERR;
	if (events & G_IO_HUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static int add_poll(int fd, int events, void *opaque)
{
	GArray *pollfds = opaque;
	GPollFD p = {.fd = fd, .events = (gushort)poll_to_gio(events)};

	g_array_append_val(pollfds, p);
	return (int)pollfds->len - 1;
}

static int get_revents(int idx, void *opaque)
{
	GArray *pollfds = opaque;
	return gio_to_poll(g_array_index(pollfds, GPollFD, idx).revents);
}

static void timers_clamp(const struct net_loop *l, uint32_t *timeout_ms)
{
	int64_t now = cb_clock_get_ns(NULL) / 1000000;

	for (const struct net_timer *t = l->timers; t; t = t->next) {
		int64_t d;
		if (t->expire_ms < 0)
			continue;
		d = t->expire_ms - now;
		if (d < 0)
			d = 0;
		if ((uint64_t)d < *timeout_ms)
			*timeout_ms = (uint32_t)d;
	}
}

static void timers_run(struct net_loop *l)
{
	int64_t now = cb_clock_get_ns(NULL) / 1000000;
	bool fired;

	/* A handler may free or re-arm timers: restart the walk after each. */
	do {
		fired = false;
		for (struct net_timer *t = l->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				slirp_handle_timer(l->slirp, t->id, t->cb_opaque);
				fired = true;
				break;
			}
		}
	} while (fired);
}

/* ---- forwards --------------------------------------------------------- */

static const char *proto_name(const struct net_forward *f)
{
	return f->udp ? "udp" : "tcp";
}

static void forward_host_describe(const struct net_forward *f, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *h6 = (const void *)&f->host, *g6 = (const void *)&f->guest;
	const struct sockaddr_in *h4 = (const void *)&f->host, *g4 = (const void *)&f->guest;

	if (f->family == AF_INET6) {
		inet_ntop(AF_INET6, &g6->sin6_addr, g, sizeof(g));
		inet_ntop(AF_INET6, &h6->sin6_addr, h, sizeof(h));
		snprintf(buf, len, "container [%s]:%u -> host [%s]:%u/tcp", g, ntohs(g6->sin6_port), h,
			 ntohs(h6->sin6_port));
	} else {
		inet_ntop(AF_INET, &g4->sin_addr, g, sizeof(g));
		inet_ntop(AF_INET, &h4->sin_addr, h, sizeof(h));
		snprintf(buf, len, "container %s:%u -> host %s:%u/tcp", g, ntohs(g4->sin_port), h, ntohs(h4->sin_port));
	}
}

void forward_describe(const struct net_forward *f, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	unsigned hp, gp;

	if (f->to_host) {
		forward_host_describe(f, buf, len);
		return;
	}
	if (f->family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&f->host, *b = (const void *)&f->guest;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
		inet_ntop(AF_INET6, &b->sin6_addr, g, sizeof(g));
		hp = ntohs(a->sin6_port);
		gp = ntohs(b->sin6_port);
		snprintf(buf, len, "[%s]:%u -> [%s]:%u/%s", h, hp, g, gp, proto_name(f));
	} else {
		const struct sockaddr_in *a = (const void *)&f->host, *b = (const void *)&f->guest;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		inet_ntop(AF_INET, &b->sin_addr, g, sizeof(g));
		hp = ntohs(a->sin_port);
		gp = ntohs(b->sin_port);
		snprintf(buf, len, "%s:%u -> %s:%u/%s", h, hp, g, gp, proto_name(f));
	}
}

static unsigned host_port(const struct net_forward *f)
{
	return f->family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)&f->host)->sin6_port)
				     : ntohs(((const struct sockaddr_in *)&f->host)->sin_port);
}

static socklen_t addr_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static bool same_host_side(const struct net_forward *a, const struct net_forward *b)
{
	return a->udp == b->udp && a->family == b->family && memcmp(&a->host, &b->host, addr_len(a->family)) == 0;
}

/* The causes a user can act on, named; E is bind's errno. */
static int forward_fail(const struct net_loop *l, const struct net_forward *f, const char *desc, int e,
			struct ocr_error *err)
{
	if (e == EACCES && (int)host_port(f) < l->cfg->unprivileged_port_start)
		return ocr_fail(err, e,
				"forward %s: host port %u is below net.ipv4.ip_unprivileged_port_start (%d): "
				"use a port >= %d, or lower that sysctl as root",
				desc, host_port(f), l->cfg->unprivileged_port_start, l->cfg->unprivileged_port_start);
	if (e == EADDRINUSE)
		return ocr_fail(err, e, "forward %s: host port %u/%s is already in use", desc, host_port(f),
				proto_name(f));
	errno = e;
	return ocr_fail_errno(err, "forward %s", desc);
}

/* The handler may exist for --forward-host alone (--port-handler slirp). */
static bool by_splice(const struct net_loop *l, const struct net_forward *f)
{
	return l->splice && l->cfg->port_handler == NET_PORT_SPLICE && !f->udp;
}

int loop_add_forward(struct net_loop *l, struct net_forward *f, struct ocr_error *err)
{
	char desc[160];
	int flags = f->udp ? SLIRP_HOSTFWD_UDP : 0;

	forward_describe(f, desc, sizeof(desc));
	if (l->n_forwards >= NET_MAX_FORWARDS)
		return ocr_fail(err, ENOSPC, "forward %s: at most %d forwards", desc, NET_MAX_FORWARDS);
	for (size_t i = 0; i < l->n_forwards; i++)
		if (same_host_side(&l->forwards[i], f))
			return ocr_fail(err, EADDRINUSE, "forward %s: host port %u/%s is already forwarded (id %d)",
					desc, host_port(f), proto_name(f), l->forwards[i].id);
	if (f->family == AF_INET6)
		flags |= SLIRP_HOSTFWD_V6ONLY;
	f->id = l->next_id + 1;
	if (by_splice(l, f)) {
		struct ocr_error e = {0};
		if (splice_listen(l->splice, f, &e) < 0)
			return forward_fail(l, f, desc, e.err ? e.err : EADDRINUSE, err);
	} else {
		errno = 0;
		if (slirp_add_hostxfwd(l->slirp, (const struct sockaddr *)&f->host, addr_len(f->family),
				       (const struct sockaddr *)&f->guest, addr_len(f->family), flags) < 0)
			return forward_fail(l, f, desc, errno ? errno : EADDRINUSE, err);
	}
	l->next_id = f->id;
	l->forwards[l->n_forwards++] = *f;
	l->n_udp_forwards += f->udp;
	net_debug("forward %d: %s (%s)", f->id, desc, by_splice(l, f) ? "splice" : "libslirp");
	return 0;
}

int loop_remove_forward(struct net_loop *l, int id, struct ocr_error *err)
{
	for (size_t i = 0; i < l->n_forwards; i++) {
		struct net_forward *f = &l->forwards[i];
		if (f->id != id)
			continue;
		if (by_splice(l, f)) {
			if (!splice_unlisten(l->splice, id))
				return ocr_fail(err, ENOENT, "forward %d: the splice handler does not know it", id);
		} else if (slirp_remove_hostxfwd(l->slirp, (const struct sockaddr *)&f->host, addr_len(f->family),
						 f->udp ? SLIRP_HOSTFWD_UDP : 0) < 0) {
			return ocr_fail(err, ENOENT, "forward %d: libslirp does not know it", id);
		}
		net_debug("forward %d removed", id);
		l->n_udp_forwards -= f->udp;
		memmove(f, f + 1, (l->n_forwards - i - 1) * sizeof(*f));
		l->n_forwards--;
		return 0;
	}
	return ocr_fail(err, ENOENT, "no forward with id %d", id);
}

const struct net_forward *loop_forwards(const struct net_loop *l, size_t *ret_n)
{
	*ret_n = l->n_forwards;
	return l->forwards;
}

/* ---- set-up and loop -------------------------------------------------- */

/* With offloads libslirp works in large segments whatever the tap's MTU
 * (offload.c); without, it must keep to the tap's. */
static unsigned slirp_mtu(const struct net_config *cfg)
{
	return cfg->offload && cfg->mtu < NET_SLIRP_MTU_OFFLOAD ? NET_SLIRP_MTU_OFFLOAD : cfg->mtu;
}

static void make_config(const struct net_config *cfg, SlirpConfig *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->version = 4;
	sc->restricted = 0;
	sc->in_enabled = true;
	inet_pton(AF_INET, NET_VNETWORK, &sc->vnetwork);
	inet_pton(AF_INET, NET_VNETMASK, &sc->vnetmask);
	inet_pton(AF_INET, NET_VHOST, &sc->vhost);
	inet_pton(AF_INET, NET_VDNS, &sc->vnameserver);
	inet_pton(AF_INET, NET_GUEST, &sc->vdhcp_start);
	sc->in6_enabled = cfg->ipv6;
	inet_pton(AF_INET6, NET_VPREFIX6, &sc->vprefix_addr6);
	sc->vprefix_len = NET_VPREFIX6_LEN;
	inet_pton(AF_INET6, NET_VHOST6, &sc->vhost6);
	inet_pton(AF_INET6, NET_VDNS6, &sc->vnameserver6);
	sc->if_mtu = slirp_mtu(cfg);
	sc->if_mru = slirp_mtu(cfg);
	sc->disable_host_loopback = !cfg->allow_host_loopback;
	sc->enable_emu = false;
	sc->disable_dhcp = true; /* addresses are static */
}

static int signal_fd(struct ocr_error *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return ocr_fail_errno(err, "sigprocmask");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return ocr_fail_errno(err, "signalfd");
	return fd;
}

int loop_new(const struct net_config *cfg, int tapfd, struct splice_handler *splice, struct net_loop **ret,
	     struct ocr_error *err)
{
	struct net_loop *l = g_new0(struct net_loop, 1);
	SlirpConfig sc;

	l->cfg = cfg;
	l->tapfd = tapfd;
	l->splice = splice;
	l->pidfd = l->sigfd = -1;
	l->pollfds = g_array_sized_new(FALSE, TRUE, sizeof(GPollFD), 64);
	l->frame = g_malloc(FRAME_MAX);
	l->now = l->last_frame = now_ms();
	if (!cfg->allow_host_loopback)
		l->udp = udp_sessions_new();
	if (cfg->dns_upstream_len)
		l->dns = dns_proxy_new(&cfg->dns_upstream, cfg->dns_upstream_len, cfg->mtu, cb_send_packet, l);
	if (cfg->offload) {
		l->mss4 = MIN(slirp_mtu(cfg) - 40, MSS_CAP);
		l->mss6 = MIN(slirp_mtu(cfg) - 60, MSS_CAP);
	}
	*ret = l;
	l->pidfd = (int)syscall(SYS_pidfd_open, cfg->pid, 0);
	if (l->pidfd < 0)
		return ocr_fail_errno(err, "watch container init %d (pidfd_open)", (int)cfg->pid);
	l->sigfd = signal_fd(err);
	if (l->sigfd < 0)
		return -1;
	make_config(cfg, &sc);
	if (slirp_new(&sc, &slirp_callbacks, l) == NULL || l->slirp == NULL)
		return ocr_fail(err, EINVAL, "libslirp %s refused the configuration", slirp_version_string());
	net_debug("libslirp %s: MTU %u (libslirp's %u), offloads %s, IPv6 %s, host loopback %s, DNS to %s",
		  slirp_version_string(), cfg->mtu, slirp_mtu(cfg), cfg->offload ? "on" : "off",
		  cfg->ipv6 ? "on" : "off", cfg->allow_host_loopback ? "allowed" : "refused",
		  cfg->dns_upstream_len ? "the given upstream" : "the host's resolver");
	return 0;
}

/* Up to TAP_BATCH frames into slirp. Returns -1 when the tap is gone
 * (the container's network namespace went away). */
static int tap_drain(struct net_loop *l)
{
	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(l->tapfd, l->frame, FRAME_MAX);
		uint8_t *frame = l->frame;
		if (n > 0) {
			l->last_frame = l->now;
			if (l->cfg->offload &&
			    (n = offload_from_guest(l->frame, (size_t)n, l->mss4, l->mss6, &frame)) < 0)
				continue;
			if (l->udp && l->n_udp_forwards &&
			    udp_sessions_answer(l->udp, l->forwards, l->n_forwards,
						&g_array_index(l->pollfds, GPollFD, N_SLOTS),
						l->slirp_fds_end - N_SLOTS, frame, (size_t)n))
				continue;
			if (l->dns && dns_proxy_query(l->dns, frame, (size_t)n, l->now))
				continue;
			slirp_input(l->slirp, frame, (int)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return -1;
	}
	return 0;
}

static void pollfd_set(GArray *a, int slot, int fd)
{
	GPollFD *p = &g_array_index(a, GPollFD, slot);

	p->fd = fd;
	p->events = fd >= 0 ? G_IO_IN : 0;
	p->revents = 0;
}

/* Stopping: the tap fd holds the container's network namespace, so its
 * sockets that a process closed with data still unsent (nc's, say) keep
 * sending after the last process exited. Serve them until the tap has
 * been quiet for a moment, bounded; a second signal stops at once. */
#define DRAIN_INIT_IDLE_MS 500
#define DRAIN_INIT_MAX_MS 5000
#define DRAIN_SIGNAL_IDLE_MS 100
#define DRAIN_SIGNAL_MAX_MS 1000

static void drain_start(struct net_loop *l, int64_t idle_ms, int64_t max_ms)
{
	int64_t deadline = now_ms() + max_ms;

	if (l->drain_deadline == 0 || deadline < l->drain_deadline)
		l->drain_deadline = deadline;
	if (l->drain_idle == 0 || idle_ms < l->drain_idle)
		l->drain_idle = idle_ms;
}

/* While draining: true when it is time to stop; else clamps TIMEOUT to
 * the next moment that could be. */
static bool drain_done(const struct net_loop *l, uint32_t *timeout)
{
	int64_t now = now_ms(), quiet_end = l->last_frame + l->drain_idle;
	int64_t next = quiet_end < l->drain_deadline ? quiet_end : l->drain_deadline;

	if (now >= next)
		return true;
	if ((uint64_t)(next - now) < *timeout)
		*timeout = (uint32_t)(next - now);
	return false;
}

int loop_run(struct net_loop *l, int apifd, struct ocr_error *err)
{
	for (;;) {
		uint32_t timeout = UINT32_MAX;
		GPollFD *fds;
		int n;

		g_array_set_size(l->pollfds, N_SLOTS);
		pollfd_set(l->pollfds, SLOT_TAP, l->tapfd);
		pollfd_set(l->pollfds, SLOT_PID, l->drain_deadline ? -1 : l->pidfd);
		pollfd_set(l->pollfds, SLOT_SIG, l->sigfd);
		pollfd_set(l->pollfds, SLOT_API, apifd);
		pollfd_set(l->pollfds, SLOT_SPLICE, splice_fd(l->splice));
		slirp_pollfds_fill(l->slirp, &timeout, add_poll, l->pollfds);
		l->slirp_fds_end = l->pollfds->len;
		if (l->dns)
			dns_proxy_fill(l->dns, l->pollfds, &timeout, now_ms());
		splice_timeout(l->splice, &timeout, now_ms());
		timers_clamp(l, &timeout);
		if (l->drain_deadline && drain_done(l, &timeout)) {
			net_debug("stopping: no frames for %lld ms", (long long)(now_ms() - l->last_frame));
			return 0;
		}
		fds = (GPollFD *)(void *)l->pollfds->data;
		n = g_poll(fds, l->pollfds->len, timeout == UINT32_MAX ? -1 : (gint)timeout);
		if (n < 0 && errno != EINTR)
			return ocr_fail_errno(err, "poll");
		l->now = now_ms();
		if (fds[SLOT_PID].revents) {
			net_debug("container init %d exited: serving its last frames", (int)l->cfg->pid);
			drain_start(l, DRAIN_INIT_IDLE_MS, DRAIN_INIT_MAX_MS);
		}
		if (fds[SLOT_SIG].revents) {
			struct signalfd_siginfo si;
			if (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (l->stop_signals++ > 0) {
					net_debug("signal %u again: stopping", si.ssi_signo);
					return 0;
				}
				net_debug("signal %u: serving the last frames", si.ssi_signo);
				drain_start(l, DRAIN_SIGNAL_IDLE_MS, DRAIN_SIGNAL_MAX_MS);
			}
		}
		if (fds[SLOT_TAP].revents & (G_IO_ERR | G_IO_HUP | G_IO_NVAL)) {
			net_debug("tap device gone: stopping");
			return 0;
		}
		/* Host sockets first: this also moves libslirp's clock to now,
		 * which the frames below need. A UDP socket made for a frame
		 * while the clock is stale (the first frame, or the first after
		 * minutes of quiet) would expire before its answer comes. */
		slirp_pollfds_poll(l->slirp, n < 0, get_revents, l->pollfds);
		if (l->dns)
			dns_proxy_poll(l->dns, l->pollfds);
		if ((fds[SLOT_TAP].revents & G_IO_IN) && tap_drain(l) < 0) {
			net_debug("tap read: %s: stopping", strerror(errno));
			return 0;
		}
		splice_poll(l->splice, fds[SLOT_SPLICE].revents != 0, l->now);
		if (apifd >= 0 && fds[SLOT_API].revents)
			api_handle(l, apifd);
		timers_run(l);
	}
}

void loop_free(struct net_loop *l)
{
	if (l == NULL)
		return;
	if (l->slirp)
		slirp_cleanup(l->slirp);
	while (l->timers) {
		struct net_timer *t = l->timers;
		l->timers = t->next;
		g_free(t);
	}
	if (l->pidfd >= 0)
		close(l->pidfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	g_array_free(l->pollfds, TRUE);
	g_free(l->frame);
	udp_sessions_free(l->udp);
	dns_proxy_free(l->dns);
	splice_free(l->splice);
	g_free(l);
}
