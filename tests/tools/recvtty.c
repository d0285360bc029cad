/* recvtty: the receiving end of --console-socket and of a seccomp
 * listenerPath, for the tests (runc has one of the same name).
 *
 *   recvtty [-m relay|file|seccomp] [-o FILE] [-i TEXT] [-e ERRNO] [-l LOG] SOCKET
 *
 * It listens on the unix socket SOCKET, accepts ONE connection and receives
 * one file descriptor with SCM_RIGHTS, together with the bytes of that
 * connection. SOCKET appears only once it listens (bound under a temporary
 * name, then renamed), so a test may wait for `[ -S SOCKET ]`.
 *
 *   relay    (default) the fd is a pty master: copy it to stdout and stdin to
 *            it until every slave is closed (EIO/EOF on the master).
 *   file     the same, but the master's output goes to FILE (-o), stdin is
 *            not read; -i TEXT is written to the master first ("\n" and "\r"
 *            escapes are understood).
 *   seccomp  the fd is a seccomp listener: the bytes of the connection (the
 *            container process state, read until EOF) go to FILE (-o; default
 *            stdout) followed by a newline; then every notification is
 *            answered with -ERRNO (-e, default ENOTSUP) and logged as
 *            "notify NR" in LOG (-l), until the filter has no task left.
 *
 * Exit status: 0 when the session ended normally, 1 on any error (with a
 * line on stderr), 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MSG_MAX (1024 * 1024)

enum mode { MODE_RELAY, MODE_FILE, MODE_SECCOMP };

struct opts {
	enum mode mode;
	const char *out, *input, *log, *socket;
	int reply_errno;
};

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("recvtty: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
	fputs("usage: recvtty [-m relay|file|seccomp] [-o FILE] [-i TEXT] [-e ERRNO] [-l LOG] SOCKET\n", stderr);
	exit(2);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write: %s", strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
}

static int open_out(const char *path, int dflt, int flags)
{
	int fd;

	if (path == NULL)
		return dflt;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

/* Bind and listen under SOCKET.tmp, then rename it to SOCKET. */
static int listen_on(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char tmp[sizeof(sun.sun_path)];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		die("socket path `%s` is too long", path);
	strcpy(sun.sun_path, tmp);
	unlink(tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("bind %s: %s", tmp, strerror(errno));
	if (listen(fd, 1) < 0)
		die("listen: %s", strerror(errno));
	if (rename(tmp, path) < 0)
		die("rename %s to %s: %s", tmp, path, strerror(errno));
	return fd;
}

/* Receive the first message of CONN with its fd; the data goes to *BUF. */
static int recv_fd(int conn, char *buf, size_t size, size_t *ret_len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf)};
	struct cmsghdr *c;
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		die("recvmsg: %s", strerror(errno));
	if (mh.msg_flags & MSG_CTRUNC)
		die("control data truncated (more than 4 fds?)");
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		if (c->cmsg_len != CMSG_LEN(sizeof(int)) || fd >= 0)
			die("expected exactly one fd, got a control message of %zu bytes", (size_t)c->cmsg_len);
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	}
	if (fd < 0)
		die("no fd received (%zd bytes of data)", n);
	*ret_len = (size_t)n;
	return fd;
}

/* "a\nb" in TEXT -> a, newline, b. */
static size_t unescape(const char *text, char *out)
{
	size_t n = 0;

	for (const char *p = text; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			out[n++] = '\n';
			p++;
		} else if (p[0] == '\\' && p[1] == 'r') {
			out[n++] = '\r';
			p++;
		} else {
			out[n++] = *p;
		}
	}
	return n;
}

/* Copy the master to OUT (and IN to the master) until the master ends. */
static void relay(int master, int in, int out)
{
	char buf[8192];

	for (;;) {
		struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = in, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (p[0].revents) {
			n = read(master, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			/* EIO: the last slave was closed. */
			if (n < 0 && errno == EIO)
				return;
			if (n < 0)
				die("read the pty master: %s", strerror(errno));
			if (n == 0)
				return;
			write_all(out, buf, (size_t)n);
		}
		if (in >= 0 && p[1].revents) {
			n = read(in, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				in = -1;
			else
				write_all(master, buf, (size_t)n);
		}
	}
}

static void seccomp_agent(int conn, int listener, char *msg, size_t len, const struct opts *o)
{
	int out = open_out(o->out, STDOUT_FILENO, O_TRUNC);
	int log = o->log ? open_out(o->log, -1, O_APPEND) : -1;

	/* The state may come in several messages: read to EOF. */
	for (;;) {
		ssize_t n;
		if (len == MSG_MAX)
			die("state message longer than %d bytes", MSG_MAX);
		n = read(conn, msg + len, MSG_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read the state: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	write_all(out, msg, len);
	write_all(out, "\n", 1);
	if (out != STDOUT_FILENO)
		close(out);
	for (;;) {
		struct pollfd p = {.fd = listener, .events = POLLIN};
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		char line[64];
		int n;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (!(p.revents & POLLIN))
			return; /* POLLHUP: no task uses the filter any more */
		memset(&req, 0, sizeof(req));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			/* ENOENT: the task went away before we read it. */
			if (errno == EINTR || errno == ENOENT)
				continue;
			die("SECCOMP_IOCTL_NOTIF_RECV: %s", strerror(errno));
		}
		if (log >= 0) {
			n = snprintf(line, sizeof(line), "notify %d\n", req.data.nr);
			write_all(log, line, (size_t)n);
		}
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.error = -o->reply_errno;
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
			die("SECCOMP_IOCTL_NOTIF_SEND: %s", strerror(errno));
	}
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	o->mode = MODE_RELAY;
	o->reply_errno = ENOTSUP;
	while ((c = getopt(argc, argv, "m:o:i:e:l:h")) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "relay") == 0)
				o->mode = MODE_RELAY;
			else if (strcmp(optarg, "file") == 0)
				o->mode = MODE_FILE;
			else if (strcmp(optarg, "seccomp") == 0)
				o->mode = MODE_SECCOMP;
			else
				usage();
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'i':
			o->input = optarg;
			break;
		case 'e':
			o->reply_errno = atoi(optarg);
			if (o->reply_errno <= 0 || o->reply_errno > 4095)
				usage();
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc - 1 || (o->mode == MODE_FILE && o->out == NULL))
		usage();
	o->socket = argv[optind];
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	char *msg;
	size_t len = 0;
	int lfd, conn, fd;

	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	msg = malloc(MSG_MAX);
	if (msg == NULL)
		die("out of memory");
	lfd = listen_on(o.socket);
	do
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	unlink(o.socket);
	fd = recv_fd(conn, msg, MSG_MAX, &len);
	switch (o.mode) {
	case MODE_SECCOMP:
		seccomp_agent(conn, fd, msg, len, &o);
		break;
	case MODE_FILE: {
		int out = open_out(o.out, -1, O_TRUNC);
		close(conn);
		if (o.input) {
			char *text = malloc(strlen(o.input) + 1);
			if (text == NULL)
				die("out of memory");
			write_all(fd, text, unescape(o.input, text));
			free(text);
		}
		relay(fd, -1, out);
		close(out);
		break;
	}
	case MODE_RELAY:
	default:
		close(conn);
		relay(fd, STDIN_FILENO, STDOUT_FILENO);
		break;
	}
	free(msg);
	return 0;
}
