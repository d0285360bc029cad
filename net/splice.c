/* The splice port handler for published TCP ports (--port-handler splice).
 *
 * libslirp's hostfwd terminates the client's TCP connection on the host
 * and makes a second one in its own TCP stack towards the container,
 * without window scaling (64 KiB in flight) and copying every byte twice.
 * Here the helper listens on the host address itself; for each client it
 * connects a socket made inside the container's network namespace (by the
 * socket factory, sockfactory.c) to the container's address and CPORT,
 * and moves bytes between the two kernel sockets with splice(2) through a
 * pipe per direction: both ends are the kernels' own TCP, no user-space
 * stack and no copy through the helper's memory.
 *
 * The price (the same as rootlesskit's builtin driver and pasta's):
 * the container sees the connection come from its own address
 * (10.0.2.100 or fd00::100), not from 10.0.2.2, so it cannot tell clients
 * apart by address. The container's address, not its 127.0.0.1, is what
 * we connect to: a service that listens only on the container's loopback
 * stays unpublished, as with libslirp.
 *
 * --forward-host is the same relay the other way round (pasta's -T): the
 * listener is a socket the factory bound in the container's namespace
 * (to 127.0.0.1:CPORT, say), the helper accepts on it from the host's
 * namespace and connects its own socket to the host's loopback HOSTPORT.
 * A connection has a client side (the socket accepted) and a server side
 * (the socket we connect); which namespace each lives in is all that
 * differs between the directions.
 *
 * Everything runs from one epoll fd that the helper's poll loop watches
 * (slirp.c), level-triggered: an fd is in the set only while we want
 * something from it (an fd with nothing wanted would keep reporting
 * EPOLLHUP). Per connection: 2 sockets and 2 pipes. At most max_conns
 * connections (from RLIMIT_NOFILE); beyond that the listeners leave the
 * set and clients wait in the kernel's backlog. */
#include <fcntl.h>
#include <glib.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "net.h"
#include "utils.h"

#define SPLICE_MAX_CONNS 512
#define FDS_PER_CONN 6
#define FDS_RESERVED 256 /* libslirp's sockets, DNS, the API */
/* A pipe that a transfer fills grows from the default 64 KiB to this:
 * fewer wake-ups per byte, +16% down at MTU 65520 (bench/FINDINGS.md).
 * Only so many at once: pipe pages count against the user's
 * fs.pipe-user-pages-soft (64 MiB by default), and past it every new pipe
 * of the user, the container's too, gets 8 KiB. 16 MiB is a quarter. */
#ifndef SPLICE_PIPE_SIZE
#define SPLICE_PIPE_SIZE (1024 * 1024)
#endif
#define PIPES_GROWN_MAX 16
#define CONNECT_TIMEOUT_MS 10000
#define ACCEPT_BATCH 16
#define PUMP_ROUNDS 8
#define EVENTS_MAX 64
/* accept() failed for want of fds or memory: listeners rest this long,
 * rather than wake us for the same failure in a loop. */
#define ACCEPT_BACKOFF_MS 100
/* Wake-ups in a row that moved nothing: the connection is dropped rather
 * than spin (a state the kernel should never leave us in). */
#define IDLE_WAKEUPS_MAX 1000

/* CLIENT: the socket accepted; SERVER: the one we connect. */
enum { SIDE_CLIENT, SIDE_SERVER };
enum { TAG_LISTENER = 1, TAG_CLIENT, TAG_SERVER };
enum conn_state { CONN_FREE, CONN_CONNECTING, CONN_OPEN, CONN_DEAD };

struct listener {
	int fd; /* -1: free slot */
	bool in_set;
	struct net_forward fwd;
};

/* One direction: bytes read from fd[from] wait in the pipe for fd[!from]. */
struct half {
	int pipe[2];
	size_t pending; /* bytes in the pipe */
	size_t cap; /* the pipe's size */
	bool grow_tried, grown;
	bool eof; /* fd[from] said EOF */
	bool shut; /* fd[!from] got shutdown(SHUT_WR) */
	bool full; /* the pipe took nothing more (its slots, not bytes) */
};

struct conn {
	enum conn_state state;
	int fd[2];
	uint32_t events[2]; /* in the epoll set; 0: not in it */
	struct half half[2]; /* half[d]: fd[d] -> fd[!d] */
	int64_t deadline; /* connect */
	int fwd_id;
	bool to_host; /* a --forward-host connection */
	unsigned idle_wakeups;
	int next; /* free or dead list */
};

struct splice_handler {
	struct sockfactory *factory;
	int epfd;
	struct listener listeners[NET_MAX_FORWARDS];
	bool paused; /* listeners out of the set */
	int64_t resume_at; /* ms; 0: as soon as a slot is free */
	struct conn *conns;
	size_t max_conns, n_connecting;
	int free_head, dead_head;
	unsigned pipes_grown;
};

static uint64_t ref(int tag, size_t idx)
{
	return (uint64_t)tag << 32 | idx;
}

static int set_interest(int epfd, int fd, uint32_t *cur, uint32_t want, uint64_t data)
{
	struct epoll_event ev = {.events = want, .data.u64 = data};
	int rc = 0;

	if (want == *cur)
		return 0;
	if (want == 0)
		rc = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	else
		rc = epoll_ctl(epfd, *cur ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
	if (rc == 0)
		*cur = want;
	return rc;
}

/* ---- listeners -------------------------------------------------------- */

static void listeners_set(struct splice_handler *s, bool on)
{
	for (size_t i = 0; i < NET_MAX_FORWARDS; i++) {
		struct listener *ls = &s->listeners[i];
		uint32_t cur = ls->in_set ? EPOLLIN : 0;
		if (ls->fd < 0 || ls->in_set == on)
			continue;
		if (set_interest(s->epfd, ls->fd, &cur, on ? EPOLLIN : 0, ref(TAG_LISTENER, i)) == 0)
			ls->in_set = on;
	}
	s->paused = !on;
}

static int host_listener(const struct net_forward *f, struct ocr_error *err)
{
	socklen_t alen = f->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	cleanup_close int fd = -1;
	int one = 1;

	fd = socket(f->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ocr_fail_errno(err, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (f->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&f->host, alen) < 0)
		return ocr_fail_errno(err, "bind");
	if (listen(fd, SOMAXCONN) < 0)
		return ocr_fail_errno(err, "listen");
	return steal_fd(&fd);
}

static unsigned guest_port(const struct net_forward *f)
{
	return ntohs(f->family == AF_INET6 ? ((const struct sockaddr_in6 *)&f->guest)->sin6_port
					   : ((const struct sockaddr_in *)&f->guest)->sin_port);
}

/* The socket factory binds for us: the causes a user can act on, named. */
static int container_listener(struct splice_handler *s, const struct net_forward *f, struct ocr_error *err)
{
	int fd = sockfactory_listen(s->factory, &f->guest, err);
	unsigned port = guest_port(f);

	if (fd >= 0)
		return fd;
	if (err->err == EADDRINUSE)
		return ocr_fail(err, EADDRINUSE, "port %u/tcp is already in use in the container", port);
	if (err->err == EACCES)
		return ocr_fail(err, EACCES,
				"port %u is below the container's net.ipv4.ip_unprivileged_port_start and the "
				"socket factory has no capabilities: use a port >= 1024",
				port);
	if (err->err == EADDRNOTAVAIL)
		return ocr_fail(err, EADDRNOTAVAIL,
				"the address is not the container's (127.0.0.1, ::1, 0.0.0.0, :: or its tap0 "
				"addresses)");
	return ocr_wrap(err, "listen in the container");
}

int splice_listen(struct splice_handler *s, const struct net_forward *f, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct listener *ls = NULL;

	for (size_t i = 0; i < NET_MAX_FORWARDS && ls == NULL; i++)
		if (s->listeners[i].fd < 0)
			ls = &s->listeners[i];
	if (ls == NULL)
		return ocr_fail(err, ENOSPC, "at most %d forwards", NET_MAX_FORWARDS);
	fd = f->to_host ? container_listener(s, f, err) : host_listener(f, err);
	if (fd < 0)
		return -1;
	ls->fwd = *f;
	ls->in_set = false;
	if (!s->paused) {
		uint32_t cur = 0;
		if (set_interest(s->epfd, fd, &cur, EPOLLIN, ref(TAG_LISTENER, (size_t)(ls - s->listeners))) < 0)
			return ocr_fail_errno(err, "epoll");
		ls->in_set = true;
	}
	ls->fd = steal_fd(&fd);
	return 0;
}

/* Published ports only: --forward-host listeners stay as long as the
 * container (their ids are counted apart). */
bool splice_unlisten(struct splice_handler *s, int id)
{
	for (size_t i = 0; i < NET_MAX_FORWARDS; i++) {
		struct listener *ls = &s->listeners[i];
		if (ls->fd < 0 || ls->fwd.id != id || ls->fwd.to_host)
			continue;
		/* Connections it accepted go on, as libslirp's do. */
		if (ls->in_set)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, ls->fd, NULL);
		close(ls->fd);
		ls->fd = -1;
		ls->in_set = false;
		return true;
	}
	return false;
}

/* ---- connections ------------------------------------------------------ */

/* RST rather than FIN: the peer must not take a cut connection for a
 * complete answer. */
static void close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The slot goes back to the free list only after this batch of events,
 * so that a later event of the batch never lands on a new connection. */
static void conn_close(struct splice_handler *s, struct conn *c, bool reset)
{
	for (int side = 0; side < 2; side++) {
		if (c->fd[side] < 0)
			continue;
		if (c->events[side])
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd[side], NULL);
		if (reset)
			close_reset(c->fd[side]);
		else
			close(c->fd[side]);
		c->fd[side] = -1;
		c->events[side] = 0;
	}
	for (int d = 0; d < 2; d++) {
		for (int k = 0; k < 2; k++)
			if (c->half[d].pipe[k] >= 0) {
				close(c->half[d].pipe[k]);
				c->half[d].pipe[k] = -1;
			}
		if (c->half[d].grown)
			s->pipes_grown--;
		c->half[d].grown = false;
	}
	if (c->state == CONN_CONNECTING)
		s->n_connecting--;
	c->state = CONN_DEAD;
	c->next = s->dead_head;
	s->dead_head = (int)(c - s->conns);
}

static void conn_update(struct splice_handler *s, struct conn *c)
{
	size_t idx = (size_t)(c - s->conns);

	for (int side = 0; side < 2; side++) {
		const struct half *in = &c->half[side], *out = &c->half[!side];
		uint32_t want = 0;
		if (!in->eof && !in->full)
			want |= EPOLLIN;
		if (out->pending)
			want |= EPOLLOUT;
		if (set_interest(s->epfd, c->fd[side], &c->events[side], want,
				 ref(side == SIDE_CLIENT ? TAG_CLIENT : TAG_SERVER, idx)) < 0) {
			net_debug("splice: epoll: %s: connection dropped", strerror(errno));
			conn_close(s, c, true);
			return;
		}
	}
}

static int make_pipe(struct half *h)
{
	int size;

	if (pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	size = fcntl(h->pipe[1], F_GETPIPE_SZ);
	h->cap = size > 0 ? (size_t)size : 65536;
	return 0;
}

/* Once per direction, when a read filled its pipe. */
static void pipe_grow(struct splice_handler *s, struct half *h)
{
	int size;

	h->grow_tried = true;
	if (s->pipes_grown >= PIPES_GROWN_MAX || h->cap >= SPLICE_PIPE_SIZE)
		return;
	size = fcntl(h->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	if (size > 0) {
		h->cap = (size_t)size;
		h->grown = true;
		s->pipes_grown++;
	}
}

static const char *conn_kind(const struct conn *c)
{
	return c->to_host ? "forward-host" : "forward";
}

/* Where the server side is, for messages. */
static const char *conn_where(const struct conn *c)
{
	return c->to_host ? "on the host's loopback" : "in the container";
}

static void conn_open(struct splice_handler *s, struct conn *c)
{
	int one = 1;

	if (c->state == CONN_CONNECTING)
		s->n_connecting--;
	c->state = CONN_OPEN;
	if (make_pipe(&c->half[0]) < 0 || make_pipe(&c->half[1]) < 0) {
		net_debug("splice: %s %d: pipe: %s: connection reset", conn_kind(c), c->fwd_id, strerror(errno));
		conn_close(s, c, true);
		return;
	}
	for (int side = 0; side < 2; side++) {
		/* The relay adds no delay of its own: the senders did their
		 * own coalescing. Urgent data travels inline (splice stops at
		 * an urgent mark; the copy in half_pump moves past it). */
		setsockopt(c->fd[side], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(c->fd[side], SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
	}
	conn_update(s, c);
}

static struct conn *conn_alloc(struct splice_handler *s)
{
	struct conn *c;

	if (s->free_head < 0)
		return NULL;
	c = &s->conns[s->free_head];
	s->free_head = c->next;
	memset(c, 0, sizeof(*c));
	c->fd[0] = c->fd[1] = -1;
	for (int d = 0; d < 2; d++)
		c->half[d].pipe[0] = c->half[d].pipe[1] = -1;
	return c;
}

/* The server side: for a published port a socket in the container's
 * namespace (from the factory), for --forward-host one of the helper's
 * own, in the host's. */
static int server_socket(struct splice_handler *s, const struct net_forward *f, struct ocr_error *err)
{
	int fd;

	if (!f->to_host)
		return sockfactory_socket(s->factory, f->family, err);
	fd = socket(f->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? ocr_fail_errno(err, "socket") : fd;
}

static void conn_start(struct splice_handler *s, const struct listener *ls, int clientfd, int64_t now)
{
	socklen_t alen = ls->fwd.family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	const struct sockaddr_storage *to = ls->fwd.to_host ? &ls->fwd.host : &ls->fwd.guest;
	struct ocr_error err = {0};
	struct conn *c = conn_alloc(s);

	if (c == NULL) {
		close_reset(clientfd);
		return;
	}
	c->fwd_id = ls->fwd.id;
	c->to_host = ls->fwd.to_host;
	c->fd[SIDE_CLIENT] = clientfd;
	c->fd[SIDE_SERVER] = server_socket(s, &ls->fwd, &err);
	c->state = CONN_CONNECTING;
	s->n_connecting++;
	if (c->fd[SIDE_SERVER] < 0) {
		char msg[OCR_ERROR_MSG_MAX + 128];
		ocr_error_format(&err, msg, sizeof(msg));
		net_debug("splice: %s %d: %s: connection reset", conn_kind(c), c->fwd_id, msg);
		conn_close(s, c, true);
		return;
	}
	if (connect(c->fd[SIDE_SERVER], (const struct sockaddr *)to, alen) == 0) {
		conn_open(s, c);
		return;
	}
	if (errno != EINPROGRESS) {
		net_debug("splice: %s %d: connect %s: %s: connection reset", conn_kind(c), c->fwd_id, conn_where(c),
			  strerror(errno));
		conn_close(s, c, true);
		return;
	}
	/* The client's bytes wait in its socket until the server answers. */
	c->deadline = now + CONNECT_TIMEOUT_MS;
	if (set_interest(s->epfd, c->fd[SIDE_SERVER], &c->events[SIDE_SERVER], EPOLLOUT,
			 ref(TAG_SERVER, (size_t)(c - s->conns))) < 0)
		conn_close(s, c, true);
}

static void on_connected(struct splice_handler *s, struct conn *c)
{
	socklen_t len = sizeof(int);
	int e = 0;

	if (getsockopt(c->fd[SIDE_SERVER], SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e) {
		/* Refused (nothing listens on the port), or unreachable: the
		 * client gets a reset, as from a closed port. */
		net_debug("splice: %s %d: connect %s: %s: connection reset", conn_kind(c), c->fwd_id, conn_where(c),
			  strerror(e));
		conn_close(s, c, true);
		return;
	}
	conn_open(s, c);
}

static void on_listener(struct splice_handler *s, struct listener *ls, int64_t now)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd;

		if (s->free_head < 0) {
			listeners_set(s, false);
			s->resume_at = 0;
			return;
		}
		fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_start(s, ls, fd, now);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			net_debug("splice: %s %d: accept: %s: listeners rest %d ms",
				  ls->fwd.to_host ? "forward-host" : "forward", ls->fwd.id, strerror(errno),
				  ACCEPT_BACKOFF_MS);
			listeners_set(s, false);
			s->resume_at = now + ACCEPT_BACKOFF_MS;
		}
		return;
	}
}

/* splice() stops at an urgent mark and reports EAGAIN while the socket is
 * readable; a copy of what is there moves past it. Only into an empty
 * pipe, which always has room for a page. */
static ssize_t copy_through(int src, int pipe_w)
{
	char buf[4096];
	ssize_t n = TEMP_FAILURE_RETRY(recv(src, buf, sizeof(buf), MSG_DONTWAIT));

	if (n <= 0)
		return n;
	return write(pipe_w, buf, (size_t)n) == n ? n : -1;
}

/* Moves what fd[from] has to fd[!from], bounded; -1 (errno) when the
 * connection failed. *MOVED: whether anything happened. */
static int half_pump(struct splice_handler *s, struct conn *c, int from, bool readable, bool *moved)
{
	struct half *h = &c->half[from];
	int src = c->fd[from], dst = c->fd[!from];

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		bool progress = false;
		ssize_t n;

		if (!h->eof && !h->full) {
			n = splice(src, NULL, h->pipe[1], NULL, h->cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EAGAIN && h->pending == 0 && readable && round == 0)
				n = copy_through(src, h->pipe[1]);
			if (n > 0) {
				h->pending += (size_t)n;
				progress = true;
				if (h->pending >= h->cap && !h->grow_tried)
					pipe_grow(s, h);
			} else if (n == 0) {
				h->eof = true;
				progress = true;
			} else if (errno == EAGAIN) {
				/* with bytes waiting, the pipe may be what is full */
				h->full = h->pending > 0;
				if (h->full && !h->grow_tried)
					pipe_grow(s, h);
			} else if (errno != EINTR) {
				return -1;
			}
		}
		if (h->pending) {
			n = splice(h->pipe[0], NULL, dst, NULL, h->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				h->pending -= (size_t)n;
				h->full = false;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		*moved |= progress;
		if (!progress)
			break;
	}
	if (h->eof && h->pending == 0 && !h->shut) {
		/* Half-close: the other side reads EOF and may still answer. */
		if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
			return -1;
		h->shut = true;
		*moved = true;
	}
	return 0;
}

static void on_conn(struct splice_handler *s, struct conn *c, int side, uint32_t ev)
{
	bool moved = false;

	if (c->state == CONN_CONNECTING) {
		if (side == SIDE_SERVER)
			on_connected(s, c);
		return;
	}
	if (c->state != CONN_OPEN)
		return;
	if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && half_pump(s, c, side, ev & EPOLLIN, &moved) < 0)
		goto failed;
	if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && half_pump(s, c, !side, false, &moved) < 0)
		goto failed;
	if (c->half[0].shut && c->half[1].shut) {
		conn_close(s, c, false);
		return;
	}
	c->idle_wakeups = moved ? 0 : c->idle_wakeups + 1;
	if (c->idle_wakeups > IDLE_WAKEUPS_MAX) {
		net_debug("splice: %s %d: %u wake-ups without progress: connection reset", conn_kind(c), c->fwd_id,
			  c->idle_wakeups);
		conn_close(s, c, true);
		return;
	}
	conn_update(s, c);
	return;
failed:
	/* A reset or an error on one side: the other side sees a reset too. */
	net_debug("splice: %s %d: %s: connection reset", conn_kind(c), c->fwd_id, strerror(errno));
	conn_close(s, c, true);
}

/* ---- the handler ------------------------------------------------------ */

static size_t conn_limit(void)
{
	struct rlimit rl;
	size_t want = FDS_RESERVED + (size_t)SPLICE_MAX_CONNS * FDS_PER_CONN;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 16;
	if (rl.rlim_cur < want && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= want)
		return SPLICE_MAX_CONNS;
	return rl.rlim_cur > FDS_RESERVED + 16 * FDS_PER_CONN ? (rl.rlim_cur - FDS_RESERVED) / FDS_PER_CONN : 16;
}

int splice_new(struct sockfactory *factory, struct splice_handler **ret, struct ocr_error *err)
{
	struct splice_handler *s = g_new0(struct splice_handler, 1);

	s->factory = factory;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	for (size_t i = 0; i < NET_MAX_FORWARDS; i++)
		s->listeners[i].fd = -1;
	s->max_conns = conn_limit();
	s->conns = g_new0(struct conn, s->max_conns);
	for (size_t i = 0; i < s->max_conns; i++)
		s->conns[i].next = i + 1 < s->max_conns ? (int)i + 1 : -1;
	s->free_head = 0;
	s->dead_head = -1;
	*ret = s;
	if (s->epfd < 0)
		return ocr_fail_errno(err, "splice: epoll_create1");
	net_debug("splice: relay for published TCP ports or --forward-host, at most %zu connections", s->max_conns);
	return 0;
}

void splice_free(struct splice_handler *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->max_conns; i++)
		if (s->conns[i].state == CONN_CONNECTING || s->conns[i].state == CONN_OPEN)
			conn_close(s, &s->conns[i], false);
	for (size_t i = 0; i < NET_MAX_FORWARDS; i++)
		if (s->listeners[i].fd >= 0)
			close(s->listeners[i].fd);
	if (s->epfd >= 0)
		close(s->epfd);
	sockfactory_free(s->factory);
	g_free(s->conns);
	g_free(s);
}

int splice_fd(const struct splice_handler *s)
{
	return s ? s->epfd : -1;
}

void splice_timeout(const struct splice_handler *s, uint32_t *timeout, int64_t now)
{
	int64_t next = INT64_MAX;

	if (s == NULL)
		return;
	if (s->paused && s->resume_at)
		next = s->resume_at;
	if (s->n_connecting)
		for (size_t i = 0; i < s->max_conns; i++)
			if (s->conns[i].state == CONN_CONNECTING && s->conns[i].deadline < next)
				next = s->conns[i].deadline;
	if (next == INT64_MAX)
		return;
	if (next <= now)
		*timeout = 0;
	else if ((uint64_t)(next - now) < *timeout)
		*timeout = (uint32_t)(next - now);
}

static void expire_connects(struct splice_handler *s, int64_t now)
{
	for (size_t i = 0; i < s->max_conns && s->n_connecting; i++) {
		struct conn *c = &s->conns[i];
		if (c->state == CONN_CONNECTING && c->deadline <= now) {
			net_debug("splice: %s %d: no answer %s within %d s: connection reset", conn_kind(c), c->fwd_id,
				  conn_where(c), CONNECT_TIMEOUT_MS / 1000);
			conn_close(s, c, true);
		}
	}
}

void splice_poll(struct splice_handler *s, bool ready, int64_t now)
{
	struct epoll_event evs[EVENTS_MAX];
	int n = 0;

	if (s == NULL)
		return;
	if (ready)
		n = epoll_wait(s->epfd, evs, EVENTS_MAX, 0);
	for (int i = 0; i < n; i++) {
		int tag = (int)(evs[i].data.u64 >> 32);
		size_t idx = (size_t)(evs[i].data.u64 & 0xffffffffu);
		if (tag == TAG_LISTENER && idx < NET_MAX_FORWARDS && s->listeners[idx].fd >= 0)
			on_listener(s, &s->listeners[idx], now);
		else if ((tag == TAG_CLIENT || tag == TAG_SERVER) && idx < s->max_conns)
			on_conn(s, &s->conns[idx], tag == TAG_CLIENT ? SIDE_CLIENT : SIDE_SERVER, evs[i].events);
	}
	if (s->n_connecting)
		expire_connects(s, now);
	while (s->dead_head >= 0) {
		struct conn *c = &s->conns[s->dead_head];
		s->dead_head = c->next;
		c->state = CONN_FREE;
		c->next = s->free_head;
		s->free_head = (int)(c - s->conns);
	}
	if (s->paused && s->free_head >= 0 && now >= s->resume_at)
		listeners_set(s, true);
}
