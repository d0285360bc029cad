/* The socket factory of the splice port handler (splice.c): a small
 * process, forked before the sandbox, that lives in the container's user
 * and network namespaces and answers each request with a new TCP socket
 * made there (SCM_RIGHTS). A socket keeps the namespace it was made in,
 * so the helper connects and splices it from the host's namespace.
 *
 * Why a process of its own and not the helper itself:
 *  - setns() into the container's network namespace needs CAP_SYS_ADMIN
 *    in the user namespace that owns it, which the helper only has after
 *    joining that user namespace; doing so per connection would mean
 *    keeping setns and capabilities past the sandbox (sandbox.c denies
 *    both);
 *  - a thread cannot do it either: setns(CLONE_NEWUSER) and the sandbox's
 *    unshare(CLONE_NEWUSER) refuse multithreaded processes, and a thread
 *    would share the helper's fds and memory anyway.
 * The factory holds nothing of the host's: every fd but its socket is
 * closed before it joins, it drops every capability it gained there, is
 * not dumpable, and a seccomp allow-list leaves it recvmsg, sendmsg,
 * socket (TCP, IPv4/IPv6), bind, listen, setsockopt(IPV6_V6ONLY) and
 * exit. bind and listen are for --forward-host, whose listener must be
 * bound in the container's namespace; the filter cannot see the address
 * (a pointer), but without capabilities the factory binds only what the
 * container's own unprivileged processes could. It can do no more than
 * they can. It exits when the helper closes its end, and with the helper
 * (parent-death signal).
 *
 * Protocol (SOCK_SEQPACKET): the helper sends one byte, 4 or 6, for a new
 * socket; or 'L' and a sockaddr_in/sockaddr_in6 for a socket listening
 * there. The factory answers an int (0 or an errno), with the socket when
 * 0. The first answer, sent unasked, says whether the factory got in (an
 * int, then the message). */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "net.h"
#include "utils.h"

#define FACTORY_START_TIMEOUT_MS 10000
/* It answers at once; more means it is stuck, and it is then stopped. */
#define FACTORY_ANSWER_TIMEOUT_MS 2000
#define FACTORY_FD 3
#define REQ_LISTEN 'L'
#define LISTEN_BACKLOG 128

struct sockfactory {
	pid_t pid;
	int fd; /* -1 once it is gone */
};

struct start_msg {
	int err;
	char text[OCR_ERROR_MSG_MAX];
};

/* ---- the factory ------------------------------------------------------ */

static int factory_drop(struct ocr_error *err)
{
	cap_t none = cap_init();
	int rc = 0;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ocr_fail_errno(err, "socket factory: no_new_privs");
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			break; /* without CAP_SETPCAP; nothing in it to use either */
	if (none == NULL || cap_set_proc(none) < 0)
		rc = ocr_fail_errno(err, "socket factory: drop capabilities");
	cap_free(none);
	return rc;
}

static int factory_seccomp(struct ocr_error *err)
{
	static const char *const allowed[] = {"recvmsg",      "sendmsg",	 "close", "exit",   "exit_group",
					      "rt_sigreturn", "restart_syscall", "brk",	  "munmap", "madvise"};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc = 0;

	if (ctx == NULL)
		return ocr_fail(err, ENOMEM, "socket factory: seccomp_init");
	for (size_t i = 0; i < ARRAY_SIZE(allowed) && rc >= 0; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	for (int fam = 0; fam < 2 && rc >= 0; fam++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(fam ? AF_INET6 : AF_INET)),
				      SCMP_A1(SCMP_CMP_MASKED_EQ, (scmp_datum_t)0xf, (scmp_datum_t)SOCK_STREAM));
	/* A listener for --forward-host; the only option it sets keeps an
	 * IPv6 listener off the IPv4 port of the same number. */
	if (rc >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(bind), 0);
	if (rc >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(listen), 0);
	if (rc >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
				      SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)IPPROTO_IPV6),
				      SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)IPV6_V6ONLY));
	if (rc >= 0)
		rc = seccomp_load(ctx);
	/* Not released: free() could need a syscall the filter denies, and
	 * the process never returns from here. */
	if (rc < 0) {
		errno = -rc;
		return ocr_fail_errno(err, "socket factory: seccomp filter");
	}
	return 0;
}

static int send_answer(int sock, int e, int fd)
{
	return send_with_fd(sock, fd, &e, sizeof(e)) < 0 ? -1 : 0;
}

/* A TCP socket listening on the address in REQ (after its first byte);
 * -1 with errno. */
static int factory_listen(const unsigned char *req, size_t len)
{
	struct sockaddr_storage ss = {0};
	socklen_t alen;
	int one = 1, fd, e;

	memcpy(&ss, req + 1, len - 1 < sizeof(ss) ? len - 1 : sizeof(ss));
	alen = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if ((ss.ss_family != AF_INET && ss.ss_family != AF_INET6) || len - 1 != alen) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if ((ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&ss, alen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

__attribute__((noreturn)) static void factory_serve(int sock)
{
	for (;;) {
		struct iovec iov;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		unsigned char req[1 + sizeof(struct sockaddr_in6) + 8];
		ssize_t n;
		int fd;

		iov.iov_base = req;
		iov.iov_len = sizeof(req);
		n = TEMP_FAILURE_RETRY(recvmsg(sock, &mh, 0));
		if (n <= 0)
			_exit(0); /* the helper closed its end */
		if (req[0] == REQ_LISTEN && n > 1) {
			fd = factory_listen(req, (size_t)n);
		} else if (n == 1 && (req[0] == 4 || req[0] == 6)) {
			fd = socket(req[0] == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		} else {
			fd = -1;
			errno = EINVAL;
		}
		if (send_answer(sock, fd < 0 ? errno : 0, fd) < 0)
			_exit(1);
		if (fd >= 0)
			close(fd);
	}
}

__attribute__((noreturn)) static void factory_main(const struct net_config *cfg, int sock, pid_t parent)
{
	struct ocr_error err = {0};
	struct start_msg m = {0};
	struct iovec iov;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	/* Nothing of the host's goes into the container's namespaces: only
	 * the socket to the helper stays open (stdio included). */
	if (sock != FACTORY_FD && (dup2(sock, FACTORY_FD) < 0 || close(sock) < 0))
		_exit(1);
	for (int fd = 0; fd < FACTORY_FD; fd++)
		close(fd);
	close_fds_from(FACTORY_FD + 1, false);
	if (net_join_container(cfg, &err) == 0 && factory_drop(&err) == 0 &&
	    (!cfg->seccomp || factory_seccomp(&err) == 0))
		m.err = 0;
	else
		m.err = err.err ? err.err : EPERM;
	if (m.err)
		ocr_error_format(&err, m.text, sizeof(m.text));
	iov.iov_base = &m;
	iov.iov_len = sizeof(m.err) + strlen(m.text) + 1;
	/* sendmsg, not send (sendto): the filter allows only the former. */
	if (TEMP_FAILURE_RETRY(sendmsg(FACTORY_FD, &mh, MSG_NOSIGNAL)) < 0 || m.err)
		_exit(1);
	factory_serve(FACTORY_FD);
}

/* ---- the helper's side ------------------------------------------------ */

static void factory_stop(struct sockfactory *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(f->pid, NULL, 0));
		f->pid = 0;
	}
}

void sockfactory_free(struct sockfactory *f)
{
	if (f == NULL)
		return;
	factory_stop(f);
	free(f);
}

static int wait_answer(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return TEMP_FAILURE_RETRY(poll(&p, 1, timeout_ms)) > 0 ? 0 : -1;
}

int sockfactory_start(const struct net_config *cfg, struct sockfactory **ret, struct ocr_error *err)
{
	struct sockfactory *f = xcalloc(1, sizeof(*f));
	struct start_msg m = {0};
	pid_t parent = getpid();
	int sv[2];
	ssize_t n;

	f->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(f);
		return ocr_fail_errno(err, "socket factory: socketpair");
	}
	f->pid = fork();
	if (f->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		free(f);
		return ocr_fail_errno(err, "socket factory: fork");
	}
	if (f->pid == 0) {
		close(sv[0]);
		factory_main(cfg, sv[1], parent);
	}
	close(sv[1]);
	f->fd = sv[0];
	if (wait_answer(f->fd, FACTORY_START_TIMEOUT_MS) < 0) {
		sockfactory_free(f);
		return ocr_fail(err, ETIMEDOUT, "socket factory: no answer within %d s",
				FACTORY_START_TIMEOUT_MS / 1000);
	}
	n = TEMP_FAILURE_RETRY(recv(f->fd, &m, sizeof(m) - 1, 0));
	if (n < (ssize_t)sizeof(m.err) || m.err) {
		int e = n < (ssize_t)sizeof(m.err) ? EPIPE : m.err;
		sockfactory_free(f);
		return ocr_fail(err, e, "socket factory: %s", n < (ssize_t)sizeof(m.err) ? "it died" : m.text);
	}
	*ret = f;
	return 0;
}

/* The fd must be what was asked for: a TCP socket of FAMILY, listening
 * or not. */
static bool is_tcp_socket(int fd, int family, bool listening)
{
	int v[4];
	socklen_t len = sizeof(int);
	const int opts[4] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL, SO_ACCEPTCONN};
	const int want[4] = {family, SOCK_STREAM, IPPROTO_TCP, listening};

	for (int i = 0; i < 4; i++) {
		len = sizeof(int);
		if (getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len) < 0 || v[i] != want[i])
			return false;
	}
	return true;
}

static int recv_socket(struct sockfactory *f, int family, bool listening, struct ocr_error *err)
{
	int e = 0, fd = -1;
	ssize_t n = recv_with_fd(f->fd, &e, sizeof(e), &fd);

	/* EMFILE: we are out of fds, and the kernel dropped the socket. */
	if (n < 0 && errno == EMFILE)
		return ocr_fail(err, EMFILE, "socket factory: no socket came");
	if (n < (ssize_t)sizeof(e)) {
		if (fd >= 0)
			close(fd);
		factory_stop(f);
		return ocr_fail(err, EPIPE, "socket factory: it died");
	}
	if (e) {
		if (fd >= 0)
			close(fd);
		/* The caller names what was asked for. */
		return ocr_fail(err, e, "%s", strerror(e));
	}
	if (fd < 0)
		return ocr_fail(err, EPROTO, "socket factory: no socket came");
	if (!is_tcp_socket(fd, family, listening) || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		close(fd);
		return ocr_fail(err, EPROTO, "socket factory: it sent something else than a TCP socket");
	}
	return fd;
}

static int ask(struct sockfactory *f, const void *req, size_t len, int family, bool listening, struct ocr_error *err)
{
	if (f->fd < 0)
		return ocr_fail(err, EPIPE, "socket factory: it is gone");
	if (TEMP_FAILURE_RETRY(send(f->fd, req, len, MSG_NOSIGNAL)) < 0) {
		factory_stop(f);
		return ocr_fail_errno(err, "socket factory: ask");
	}
	if (wait_answer(f->fd, FACTORY_ANSWER_TIMEOUT_MS) < 0) {
		factory_stop(f);
		return ocr_fail(err, ETIMEDOUT, "socket factory: no answer within %d ms", FACTORY_ANSWER_TIMEOUT_MS);
	}
	return recv_socket(f, family, listening, err);
}

int sockfactory_socket(struct sockfactory *f, int family, struct ocr_error *err)
{
	unsigned char req = family == AF_INET6 ? 6 : 4;
	int fd = ask(f, &req, 1, family, false, err);

	return fd < 0 ? ocr_wrap(err, "socket in the container's network namespace") : fd;
}

int sockfactory_listen(struct sockfactory *f, const struct sockaddr_storage *addr, struct ocr_error *err)
{
	unsigned char req[1 + sizeof(struct sockaddr_in6)];
	size_t alen = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	req[0] = REQ_LISTEN;
	memcpy(req + 1, addr, alen);
	return ask(f, req, 1 + alen, addr->ss_family, true, err);
}
