/* The runtime's side of built-in networking: what the container asked for,
 * starting ocirt-rootless-net (net/) with a ready handshake, stopping it
 * at delete, and talking to its API socket. */
#include "network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "state.h"
#include "utils.h"

#define TUN_PATH "/dev/net/tun"
#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000
#define API_TIMEOUT_SEC 5
#define API_REPLY_MAX (1024 * 1024)
#define HELPER_READY_FD 3
#define HELPER_API_DIRFD 4

/* What one container asked for, flags and annotations merged. */
struct net_request {
	bool slirp;
	bool from_flag; /* --network (else the annotation) */
	struct net_publish *publish;
	size_t n_publish;
	struct net_forward_host *forward_host;
	size_t n_forward_host;
	unsigned mtu;
	bool allow_host_loopback;
	bool splice; /* published TCP ports: the splice handler, not libslirp */
	char *dns_upstream; /* "ADDR,PORT" or NULL */
};

static void net_request_clear(struct net_request *r)
{
	free(r->dns_upstream);
	r->dns_upstream = NULL;
	free(r->publish);
	r->publish = NULL;
	r->n_publish = 0;
	free(r->forward_host);
	r->forward_host = NULL;
	r->n_forward_host = 0;
}

/* ---- parsing ---------------------------------------------------------- */

int network_parse_mode(const char *s, struct ocr_error *err)
{
	if (strcmp(s, "slirp") == 0 || strcmp(s, "none") == 0)
		return 0;
	return ocr_fail(err, EINVAL, "`%s` is not slirp or none", s);
}

static int parse_port(const char *s, size_t len, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*ret = v;
	return 0;
}

#define PUBLISH_SYNTAX "[HOSTIP:]HOSTPORT:CPORT[/tcp|udp]"
#define FORWARD_HOST_SYNTAX "[CADDR:]CPORT:HOSTPORT[/tcp]"

/* [ADDR:]PORT1:PORT2[/tcp|udp], the shape of --publish and --forward-host;
 * SYNTAX and ADDR_NAME (HOSTIP, CADDR) for messages. ADDR is "" when left
 * out. */
static int parse_addr_ports(const char *s, const char *syntax, const char *addr_name, char addr[46], unsigned *ret_p1,
			    unsigned *ret_p2, bool *ret_udp, struct ocr_error *err)
{
	const char *slash = strrchr(s, '/'), *end = slash ? slash : s + strlen(s);
	const char *ports = s, *colon;
	unsigned char buf[sizeof(struct in6_addr)];

	addr[0] = '\0';
	*ret_udp = false;
	if (slash) {
		if (strcmp(slash + 1, "udp") == 0)
			*ret_udp = true;
		else if (strcmp(slash + 1, "tcp") != 0)
			return ocr_fail(err, EINVAL, "`%s`: protocol `%s` is not tcp or udp", s, slash + 1);
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));
		size_t alen = close ? (size_t)(close - s - 1) : 0;
		if (close == NULL || close[1] != ':' || alen == 0 || alen >= 46)
			return ocr_fail(err, EINVAL, "`%s`: not %s (an IPv6 %s goes in brackets)", s, syntax,
					addr_name);
		memcpy(addr, s + 1, alen);
		addr[alen] = '\0';
		if (inet_pton(AF_INET6, addr, buf) != 1)
			return ocr_fail(err, EINVAL, "`%s`: `%s` is not an IPv6 address", s, addr);
		ports = close + 2;
	} else {
		const char *first = memchr(s, ':', (size_t)(end - s));
		const char *second = first ? memchr(first + 1, ':', (size_t)(end - first - 1)) : NULL;
		if (second) {
			size_t alen = (size_t)(first - s);
			if (memchr(second + 1, ':', (size_t)(end - second - 1)))
				return ocr_fail(err, EINVAL, "`%s`: not %s (an IPv6 %s goes in brackets)", s, syntax,
						addr_name);
			if (alen == 0 || alen >= 46)
				return ocr_fail(err, EINVAL, "`%s`: not %s", s, syntax);
			memcpy(addr, s, alen);
			addr[alen] = '\0';
			if (inet_pton(AF_INET, addr, buf) != 1)
				return ocr_fail(err, EINVAL, "`%s`: `%s` is not an IPv4 address", s, addr);
			ports = first + 1;
		}
	}
	colon = memchr(ports, ':', (size_t)(end - ports));
	if (colon == NULL || parse_port(ports, (size_t)(colon - ports), ret_p1) < 0 ||
	    parse_port(colon + 1, (size_t)(end - colon - 1), ret_p2) < 0)
		return ocr_fail(err, EINVAL, "`%s`: not %s with ports in 1..65535", s, syntax);
	return 0;
}

int network_parse_publish(const char *s, struct net_publish *ret, struct ocr_error *err)
{
	memset(ret, 0, sizeof(*ret));
	return parse_addr_ports(s, PUBLISH_SYNTAX, "HOSTIP", ret->host_addr, &ret->host_port, &ret->container_port,
				&ret->udp, err);
}

int network_parse_forward_host(const char *s, struct net_forward_host *ret, struct ocr_error *err)
{
	bool udp;

	memset(ret, 0, sizeof(*ret));
	if (parse_addr_ports(s, FORWARD_HOST_SYNTAX, "CADDR", ret->container_addr, &ret->container_port,
			     &ret->host_port, &udp, err) < 0)
		return -1;
	if (udp)
		return ocr_fail(err, EINVAL, "`%s`: only tcp is forwarded to the host", s);
	if (ret->container_addr[0] == '\0')
		strcpy(ret->container_addr, "127.0.0.1");
	return 0;
}

int network_parse_mtu(const char *s, unsigned *ret, struct ocr_error *err)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v < NETWORK_MTU_MIN || v > NETWORK_MTU_MAX)
		return ocr_fail(err, EINVAL, "`%s` is not an MTU in %d..%d", s, NETWORK_MTU_MIN, NETWORK_MTU_MAX);
	*ret = (unsigned)v;
	return 0;
}

int network_parse_port_handler(const char *s, bool *ret_splice, struct ocr_error *err)
{
	if (strcmp(s, "splice") == 0 || strcmp(s, "slirp") == 0) {
		*ret_splice = strcmp(s, "splice") == 0;
		return 0;
	}
	return ocr_fail(err, EINVAL, "`%s` is not splice or slirp", s);
}

#define DNS_UPSTREAM_SYNTAX "ADDR[:PORT] or [IPV6ADDR]:PORT"

int network_parse_dns_upstream(const char *s, char **ret_arg, struct ocr_error *err)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *colon = strrchr(s, ':'), *a = s;
	size_t alen = strlen(s);
	unsigned port = 53;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || parse_port(close + 2, strlen(close + 2), &port) < 0)
			return ocr_fail(err, EINVAL, "`%s`: not " DNS_UPSTREAM_SYNTAX " with a port in 1..65535", s);
		a = s + 1;
		alen = (size_t)(close - a);
	} else if (colon && strchr(s, ':') == colon) {
		/* One colon: IPv4 with a port. More: a bare IPv6 address. */
		if (parse_port(colon + 1, strlen(colon + 1), &port) < 0)
			return ocr_fail(err, EINVAL, "`%s`: not " DNS_UPSTREAM_SYNTAX " with a port in 1..65535", s);
		alen = (size_t)(colon - s);
	}
	if (alen == 0 || alen >= sizeof(addr))
		return ocr_fail(err, EINVAL, "`%s`: not " DNS_UPSTREAM_SYNTAX, s);
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
		return ocr_fail(err, EINVAL, "`%s`: `%s` is not an IP address", s, addr);
	*ret_arg = xasprintf("%s,%u", addr, port);
	return 0;
}

static int add_publish(struct net_request *r, const char *s, struct ocr_error *err)
{
	if (r->n_publish >= NETWORK_MAX_PUBLISH)
		return ocr_fail(err, E2BIG, "more than %d published ports", NETWORK_MAX_PUBLISH);
	r->publish = xrealloc(r->publish, (r->n_publish + 1) * sizeof(*r->publish));
	if (network_parse_publish(s, &r->publish[r->n_publish], err) < 0)
		return -1;
	r->n_publish++;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0)
		*ret = true;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "no") == 0)
		*ret = false;
	else
		return -1;
	return 0;
}

static int add_forward_host(struct net_request *r, const char *s, struct ocr_error *err)
{
	if (r->n_forward_host >= NETWORK_MAX_PUBLISH)
		return ocr_fail(err, E2BIG, "more than %d forwards to the host", NETWORK_MAX_PUBLISH);
	r->forward_host = xrealloc(r->forward_host, (r->n_forward_host + 1) * sizeof(*r->forward_host));
	if (network_parse_forward_host(s, &r->forward_host[r->n_forward_host], err) < 0)
		return -1;
	r->n_forward_host++;
	return 0;
}

/* Annotation NAME=SPEC[,SPEC...] (spaces around commas allowed), each
 * SPEC given to ADD. */
static int list_from_annotation(struct net_request *r, const char *name, const char *value,
				int (*add)(struct net_request *, const char *, struct ocr_error *),
				struct ocr_error *err)
{
	cleanup_free char *copy = xstrdup(value);
	char *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';)
			*--e = '\0';
		if (*tok && add(r, tok, err) < 0)
			return ocr_wrap(err, "annotation %s", name);
	}
	return 0;
}

static int net_request_make(const struct spec *spec, const struct net_options *o, struct net_request *r,
			    struct ocr_error *err)
{
	const char *mode = o ? o->mode : NULL;
	const char *mtu = o ? o->mtu : NULL;
	const char *handler = o ? o->port_handler : NULL;
	const char *ann;

	memset(r, 0, sizeof(*r));
	r->mtu = NETWORK_MTU_DEFAULT;
	r->splice = NETWORK_PORT_HANDLER_SPLICE_DEFAULT;
	r->from_flag = mode != NULL;
	if (mode == NULL)
		mode = spec_annotation(spec, NETWORK_ANN_MODE);
	if (mode && network_parse_mode(mode, err) < 0)
		return ocr_wrap(err, r->from_flag ? "--network" : "annotation " NETWORK_ANN_MODE);
	r->slirp = mode && strcmp(mode, "slirp") == 0;
	if (o && o->publish && o->publish[0]) {
		for (char **p = o->publish; *p; p++)
			if (add_publish(r, *p, err) < 0)
				return ocr_wrap(err, "--publish");
	} else if ((ann = spec_annotation(spec, NETWORK_ANN_PUBLISH)) != NULL) {
		if (list_from_annotation(r, NETWORK_ANN_PUBLISH, ann, add_publish, err) < 0)
			return -1;
	}
	if (o && o->forward_host && o->forward_host[0]) {
		for (char **p = o->forward_host; *p; p++)
			if (add_forward_host(r, *p, err) < 0)
				return ocr_wrap(err, "--forward-host");
	} else if ((ann = spec_annotation(spec, NETWORK_ANN_FORWARD_HOST)) != NULL) {
		if (list_from_annotation(r, NETWORK_ANN_FORWARD_HOST, ann, add_forward_host, err) < 0)
			return -1;
	}
	if (o && o->allow_host_loopback) {
		r->allow_host_loopback = true;
	} else if ((ann = spec_annotation(spec, NETWORK_ANN_LOOPBACK)) != NULL) {
		if (parse_bool(ann, &r->allow_host_loopback) < 0)
			return ocr_fail(err, EINVAL, "annotation " NETWORK_ANN_LOOPBACK ": `%s` is not true or false",
					ann);
	}
	if (mtu == NULL && (ann = spec_annotation(spec, NETWORK_ANN_MTU)) != NULL) {
		if (network_parse_mtu(ann, &r->mtu, err) < 0)
			return ocr_wrap(err, "annotation " NETWORK_ANN_MTU);
	} else if (mtu && network_parse_mtu(mtu, &r->mtu, err) < 0) {
		return ocr_wrap(err, "--mtu");
	}
	if (handler && network_parse_port_handler(handler, &r->splice, err) < 0)
		return ocr_wrap(err, "--port-handler");
	if (handler == NULL && (ann = spec_annotation(spec, NETWORK_ANN_PORT_HANDLER)) != NULL &&
	    network_parse_port_handler(ann, &r->splice, err) < 0)
		return ocr_wrap(err, "annotation " NETWORK_ANN_PORT_HANDLER);
	if ((ann = spec_annotation(spec, NETWORK_ANN_DNS_UPSTREAM)) != NULL &&
	    network_parse_dns_upstream(ann, &r->dns_upstream, err) < 0)
		return ocr_wrap(err, "annotation " NETWORK_ANN_DNS_UPSTREAM);
	/* Flags without slirp are a mistake; annotations then just rest. */
	if (!r->slirp && o &&
	    ((o->publish && o->publish[0]) || (o->forward_host && o->forward_host[0]) || o->allow_host_loopback ||
	     o->mtu || handler)) {
		const char *what = o->publish && o->publish[0]		   ? "--publish"
				   : o->forward_host && o->forward_host[0] ? "--forward-host"
				   : o->allow_host_loopback		   ? "--allow-host-loopback"
				   : o->mtu				   ? "--mtu"
									   : "--port-handler";
		return ocr_fail(err, EINVAL, "%s needs --network slirp (or annotation " NETWORK_ANN_MODE "=slirp)",
				what);
	}
	return 0;
}

/* ---- checks before the helper starts ---------------------------------- */

static int check_tun(struct ocr_error *err)
{
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return ocr_fail_errno(err, TUN_PATH " is missing: load the tun module (`modprobe tun`)");
	if (errno == EACCES || errno == EPERM)
		return ocr_fail_errno(err,
				      TUN_PATH " is not accessible to uid %u (is it mode 0600?): as root, "
					       "`chmod 0666 " TUN_PATH "` as the udev rules of distributions do",
				      (unsigned)geteuid());
	return ocr_fail_errno(err, "open " TUN_PATH);
}

static int unprivileged_port_start(void)
{
	cleanup_free char *s = NULL;
	struct ocr_error ignored = {0};
	uint64_t v;

	if (read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_unprivileged_port_start", 64, &s, NULL, &ignored) < 0)
		return 1024;
	s[strcspn(s, "\n")] = '\0';
	return parse_u64(s, &v) == 0 && v <= 65536 ? (int)v : 1024;
}

static int check_ports(const struct ocr_ctx *ctx, const struct net_publish *p, size_t n, struct ocr_error *err)
{
	int start;

	if (ctx->euid == 0 && ctx->initial_userns)
		return 0;
	start = unprivileged_port_start();
	for (size_t i = 0; i < n; i++)
		if ((int)p[i].host_port < start)
			return ocr_fail(err, EACCES,
					"--publish: host port %u is below net.ipv4.ip_unprivileged_port_start (%d): "
					"publish a port >= %d, or lower that sysctl as root",
					p[i].host_port, start, start);
	return 0;
}

/* $OCIRT_NET_HELPER, else ocirt-rootless-net next to this binary. */
static char *find_helper(struct ocr_error *err)
{
	const char *env = getenv(NETWORK_HELPER_ENV);
	char self[PATH_MAX];
	ssize_t n;
	char *slash, *path;

	if (env && env[0]) {
		/* Absolute: the helper starts in /. */
		path = access(env, X_OK) == 0 ? realpath(env, NULL) : NULL;
		if (path == NULL)
			ocr_fail_errno(err, "network helper `%s` (from $" NETWORK_HELPER_ENV ")", env);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		ocr_fail_errno(err, "readlink /proc/self/exe");
		return NULL;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	path = xasprintf("%s/" NETWORK_HELPER_NAME, slash ? self : ".");
	if (access(path, X_OK) < 0) {
		ocr_fail_errno(err,
			       "network helper `%s` (install " NETWORK_HELPER_NAME " next to the runtime or "
			       "set $" NETWORK_HELPER_ENV ")",
			       path);
		free(path);
		return NULL;
	}
	return path;
}

/* ---- the helper process ----------------------------------------------- */

static char *forward_arg(const struct net_publish *p)
{
	const char *host = p->host_addr[0] ? p->host_addr : "0.0.0.0";
	return xasprintf("%s,%s,%u,%u", p->udp ? "udp" : "tcp", host, p->host_port, p->container_port);
}

static char **helper_argv(const struct ocr_ctx *ctx, const char *path, const char *id, const struct net_request *r,
			  pid_t pid, unsigned long long starttime)
{
	size_t n = 0, max = 24 + 2 * r->n_publish + 2 * r->n_forward_host;
	char **argv = xcalloc(max, sizeof(char *));

	argv[n++] = xstrdup(path);
	argv[n++] = xstrdup("--id");
	argv[n++] = xstrdup(id);
	argv[n++] = xasprintf("--pid=%d", (int)pid);
	argv[n++] = xasprintf("--pid-starttime=%llu", starttime);
	argv[n++] = xasprintf("--ready-fd=%d", HELPER_READY_FD);
	argv[n++] = xasprintf("--api-dirfd=%d", HELPER_API_DIRFD);
	argv[n++] = xstrdup("--api-socket=" NETWORK_API_SOCKET);
	argv[n++] = xasprintf("--mtu=%u", r->mtu);
	if (r->allow_host_loopback)
		argv[n++] = xstrdup("--allow-host-loopback");
	for (size_t i = 0; i < r->n_publish; i++) {
		argv[n++] = xstrdup("--forward");
		argv[n++] = forward_arg(&r->publish[i]);
	}
	for (size_t i = 0; i < r->n_forward_host; i++) {
		const struct net_forward_host *f = &r->forward_host[i];
		argv[n++] = xstrdup("--forward-host");
		argv[n++] = xasprintf("%s,%u,%u", f->container_addr, f->container_port, f->host_port);
	}
	if (r->dns_upstream)
		argv[n++] = xasprintf("--dns-upstream=%s", r->dns_upstream);
	argv[n++] = xstrdup(r->splice ? "--port-handler=splice" : "--port-handler=slirp");
	if (ctx->log.debug)
		argv[n++] = xstrdup("--debug");
	if (ctx->log.json)
		argv[n++] = xstrdup("--log-format=json");
	argv[n] = NULL;
	return argv;
}

__attribute__((noreturn)) static void helper_exec(const struct ocr_ctx *ctx, char **argv, int ready, int apidir,
						  const int gate[2])
{
	static char *const envp[] = {NULL};
	int devnull, r, a, log;
	char msg[512], go = 0;

	/* Wait until the runtime has recorded our pid; EOF means it died
	 * before it could, and nothing would ever stop us. */
	close(gate[1]);
	if (TEMP_FAILURE_RETRY(read(gate[0], &go, 1)) != 1)
		_exit(0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	r = fcntl(ready, F_DUPFD_CLOEXEC, 10);
	a = fcntl(apidir, F_DUPFD_CLOEXEC, 10);
	log = ctx->log.fd >= 0 ? fcntl(ctx->log.fd, F_DUPFD_CLOEXEC, 10) : -1;

	/* Its own session: a terminal's ^C for `run` must not take the
	 * network down before the container. */
	setsid();
	reset_signals();
	if (devnull < 0 || r < 0 || a < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(log >= 0 ? log : devnull, 2) < 0 || dup2(r, HELPER_READY_FD) < 0 || dup2(a, HELPER_API_DIRFD) < 0)
		_exit(127);
	close_fds_from(HELPER_API_DIRFD + 1, false);
	if (chdir("/") < 0) {
		/* nothing depends on the cwd */
	}
	execve(argv[0], argv, envp);
	snprintf(msg, sizeof(msg), "error %d exec `%s`: %s\n", errno, argv[0], strerror(errno));
	if (write(HELPER_READY_FD, msg, strlen(msg)) < 0) {
		/* the runtime then sees EOF */
	}
	_exit(127);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %#x", (unsigned)status);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ok\n", or "error ERRNO MESSAGE\n", or EOF when it died first. */
static int helper_wait_ready(int fd, pid_t pid, struct ocr_error *err)
{
	char buf[OCR_ERROR_MSG_MAX + 64];
	size_t len = 0;
	int64_t deadline = now_ms() + READY_TIMEOUT_MS;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || TEMP_FAILURE_RETRY(poll(&p, 1, (int)left)) == 0)
			return ocr_fail(err, ETIMEDOUT, "network helper (pid %d) was not ready within %d s", (int)pid,
					READY_TIMEOUT_MS / 1000);
		n = TEMP_FAILURE_RETRY(read(fd, buf + len, sizeof(buf) - 1 - len));
		if (n < 0)
			return ocr_fail_errno(err, "network helper: read its ready message");
		len += (size_t)n;
		buf[len] = '\0';
		if (n == 0 || strchr(buf, '\n') || len == sizeof(buf) - 1)
			break;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "ok") == 0)
		return 0;
	if (str_has_prefix(buf, "error ")) {
		char *msg = NULL;
		long e = strtol(buf + 6, &msg, 10);
		if (msg && *msg == ' ')
			msg++;
		return ocr_fail(err, e > 0 && e < 4096 ? (int)e : EIO, "%s", msg && *msg ? msg : buf);
	}
	{
		int status = 0;
		char how[64];
		kill(pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(pid, &status, 0));
		describe_exit(status, how, sizeof(how));
		return ocr_fail(err, EIO,
				"network helper exited before it was ready (%s; --debug --log FILE shows its "
				"messages)",
				how);
	}
}

/* The durable record (state.h): only what delete --force needs to stop
 * the helper, so it stays far below the size a symlink can hold however
 * many ports are published (state.json has the rest). */
static int record_helper(int state_dirfd, pid_t pid, unsigned long long starttime, struct ocr_error *err)
{
	char rec[128];

	snprintf(rec, sizeof(rec), "{\"mode\":\"slirp\",\"helper_pid\":%d,\"helper_starttime\":%llu}", (int)pid,
		 starttime);
	return state_record(state_dirfd, "network", rec, err);
}

/* Fork the helper and record it (network.rec) before it may exec: a
 * runtime killed at any moment after the fork leaves delete --force a
 * pid to stop, and one killed before the record leaves a child that
 * exits at the gate. */
static int helper_spawn(const struct ocr_ctx *ctx, char **argv, int ready, int state_dirfd, pid_t *ret_pid,
			unsigned long long *ret_start, struct ocr_error *err)
{
	cleanup_close int apidir = -1;
	int gate[2];
	pid_t child;

	/* A new open file description: the helper must not share the flock
	 * on the state directory. */
	apidir = openat(state_dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (apidir < 0)
		return ocr_fail_errno(err, "state directory");
	if (pipe2(gate, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	child = fork();
	if (child < 0) {
		close(gate[0]);
		close(gate[1]);
		return ocr_fail_errno(err, "fork");
	}
	if (child == 0)
		helper_exec(ctx, argv, ready, apidir, gate);
	close(gate[0]);
	*ret_pid = child;
	if (proc_stat(child, ret_start, NULL) < 0)
		*ret_start = 0;
	if (record_helper(state_dirfd, child, *ret_start, err) < 0 || write_all(gate[1], "g", 1) < 0) {
		close(gate[1]);
		kill(child, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(child, NULL, 0));
		return err->msg[0] ? -1 : ocr_fail_errno(err, "start the network helper");
	}
	close(gate[1]);
	return 0;
}

static int helper_start(const struct ocr_ctx *ctx, const char *path, const char *id, const struct net_request *r,
			pid_t pid, unsigned long long starttime, int state_dirfd, pid_t *ret_pid,
			unsigned long long *ret_start, struct ocr_error *err)
{
	cleanup_strv char **argv = helper_argv(ctx, path, id, r, pid, starttime);
	cleanup_close int rd = -1;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	rd = p[0];
	rc = helper_spawn(ctx, argv, p[1], state_dirfd, ret_pid, ret_start, err);
	close(p[1]);
	if (rc < 0)
		return -1;
	ocr_debug(&ctx->log, "network: started %s (pid %d) for container init %d", path, (int)*ret_pid, (int)pid);
	if (helper_wait_ready(rd, *ret_pid, err) < 0) {
		kill(*ret_pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(*ret_pid, NULL, 0));
		return -1;
	}
	return 0;
}

static json_t *record_of(pid_t pid, unsigned long long starttime, const char *socket_path, const struct net_request *r)
{
	json_t *publish = json_array(), *forward_host = json_array();

	for (size_t i = 0; i < r->n_publish; i++) {
		const struct net_publish *p = &r->publish[i];
		char *s = p->host_addr[0] == '\0'
				  ? xasprintf("%u:%u/%s", p->host_port, p->container_port, p->udp ? "udp" : "tcp")
			  : strchr(p->host_addr, ':') ? xasprintf("[%s]:%u:%u/%s", p->host_addr, p->host_port,
								  p->container_port, p->udp ? "udp" : "tcp")
						      : xasprintf("%s:%u:%u/%s", p->host_addr, p->host_port,
								  p->container_port, p->udp ? "udp" : "tcp");
		json_array_append_new(publish, json_string(s));
		free(s);
	}
	for (size_t i = 0; i < r->n_forward_host; i++) {
		const struct net_forward_host *f = &r->forward_host[i];
		char *s = strchr(f->container_addr, ':')
				  ? xasprintf("[%s]:%u:%u/tcp", f->container_addr, f->container_port, f->host_port)
				  : xasprintf("%s:%u:%u/tcp", f->container_addr, f->container_port, f->host_port);
		json_array_append_new(forward_host, json_string(s));
		free(s);
	}
	return json_pack("{s:s,s:i,s:I,s:s,s:i,s:b,s:s,s:o,s:o}", "mode", "slirp", "helper_pid", (int)pid,
			 "helper_starttime", (json_int_t)starttime, "api_socket", socket_path, "mtu", (int)r->mtu,
			 "allow_host_loopback", r->allow_host_loopback, "port_handler", r->splice ? "splice" : "slirp",
			 "publish", publish, "forward_host", forward_host);
}

static int setup_slirp(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, const struct net_request *r,
		       pid_t pid, int state_dirfd, json_t *extra, struct ocr_error *err)
{
	const struct spec_namespace *ns = spec_namespace(spec, CLONE_NEWNET);
	cleanup_free char *helper = NULL;
	cleanup_free char *socket_path = NULL;
	unsigned long long starttime = 0, hstart = 0;
	pid_t hpid = 0;
	json_t *rec;

	if (ns == NULL)
		return ocr_fail(err, EINVAL,
				"slirp needs a network namespace of its own: add {\"type\": \"network\"} "
				"to linux.namespaces in config.json");
	if (ns->path) {
		if (r->from_flag)
			return ocr_fail(err, EINVAL,
					"config.json joins the network namespace `%s`: its network is run by "
					"whoever made it (leave out --network slirp)",
					ns->path);
		ocr_debug(&ctx->log, "network: config joins `%s`: no helper started", ns->path);
		return 0;
	}
	if (check_tun(err) < 0 || check_ports(ctx, r->publish, r->n_publish, err) < 0)
		return -1;
	helper = find_helper(err);
	if (helper == NULL)
		return -1;
	if (proc_stat(pid, &starttime, NULL) < 0)
		return ocr_fail_errno(err, "container init %d", (int)pid);
	if (helper_start(ctx, helper, id, r, pid, starttime, state_dirfd, &hpid, &hstart, err) < 0)
		return -1;
	/* In EXTRA before anything else can fail: a failed create
	 * (network_teardown) finds the helper there; delete --force without
	 * state.json finds it in network.rec. */
	socket_path = xasprintf("%s/%s/" NETWORK_API_SOCKET, ctx->root, id);
	rec = record_of(hpid, hstart, socket_path, r);
	if (rec == NULL || json_object_set_new(extra, "network", rec) < 0) {
		kill(hpid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(hpid, NULL, 0));
		return ocr_fail(err, ENOMEM, "record the network helper");
	}
	return 0;
}

int network_setup(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, const struct net_options *o,
		  pid_t pid, int state_dirfd, json_t *extra, struct ocr_error *err)
{
	struct net_request r;
	int rc;

	if (net_request_make(spec, o, &r, err) < 0) {
		net_request_clear(&r);
		return ocr_wrap(err, "network");
	}
	rc = r.slirp ? setup_slirp(ctx, id, spec, &r, pid, state_dirfd, extra, err) : 0;
	net_request_clear(&r);
	if (rc < 0)
		return ocr_wrap(err, "network");
	return 0;
}

/* ---- stopping --------------------------------------------------------- */

static int wait_pidfd(int pidfd, int timeout_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	return TEMP_FAILURE_RETRY(poll(&p, 1, timeout_ms)) > 0 ? 0 : -1;
}

/* SIGTERM, then SIGKILL, each bounded; reaped when it is our child (a
 * foreground `run` started it), else its new parent reaps it. A pid that
 * now belongs to another process (start time differs) is left alone. */
static int helper_stop(const struct ocr_ctx *ctx, pid_t pid, unsigned long long starttime, struct ocr_error *err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	unsigned long long now_start;
	char st = 0;

	if (pidfd < 0) {
		if (errno == ESRCH)
			return 0;
		return ocr_fail_errno(err, "pidfd_open %d", (int)pid);
	}
	if (proc_stat(pid, &now_start, &st) < 0 || (starttime && now_start != starttime))
		return 0;
	if (st != 'Z') {
		syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
		if (wait_pidfd(pidfd, STOP_TIMEOUT_MS) < 0) {
			ocr_debug(&ctx->log, "network: helper %d ignored SIGTERM for %d ms: SIGKILL", (int)pid,
				  STOP_TIMEOUT_MS);
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			if (wait_pidfd(pidfd, STOP_TIMEOUT_MS) < 0)
				return ocr_fail(err, ETIMEDOUT, "network helper %d did not exit after SIGKILL",
						(int)pid);
		}
	}
	/* ECHILD when it is not ours: its parent (or init) reaps it. */
	TEMP_FAILURE_RETRY(waitpid(pid, NULL, WNOHANG));
	return 0;
}

int network_teardown(const struct ocr_ctx *ctx, const char *id, int state_dirfd, json_t *extra, struct ocr_error *err)
{
	json_t *rec = extra ? json_object_get(extra, "network") : NULL;
	json_int_t pid, start;

	(void)id;
	if (rec == NULL)
		return 0;
	pid = json_integer_value(json_object_get(rec, "helper_pid"));
	start = json_integer_value(json_object_get(rec, "helper_starttime"));
	if (pid > 0 && pid <= INT_MAX && helper_stop(ctx, (pid_t)pid, (unsigned long long)start, err) < 0)
		return ocr_wrap(err, "network");
	if (state_dirfd >= 0 && unlinkat(state_dirfd, NETWORK_API_SOCKET, 0) < 0 && errno != ENOENT)
		return ocr_fail_errno(err, "network: remove `%s`", NETWORK_API_SOCKET);
	json_object_del(extra, "network");
	return 0;
}

/* ---- API client ------------------------------------------------------- */

static int api_connect(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = API_TIMEOUT_SEC};
	cleanup_close int rootfd = -1;
	cleanup_close int dirfd = -1;
	cleanup_close int fd = -1;

	if (state_validate_id(id, err) < 0)
		return -1;
	rootfd = state_open_root(ctx, false, err);
	if (rootfd < 0)
		return err->err == ENOENT ? ocr_fail(err, ENOENT, "container `%s` does not exist", id) : -1;
	dirfd = openat(rootfd, id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? ocr_fail(err, ENOENT, "container `%s` does not exist", id)
				       : ocr_fail_errno(err, "container `%s`", id);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/" NETWORK_API_SOCKET, dirfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ocr_fail_errno(err, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == ENOENT)
			return ocr_fail(err, ENOENT,
					"container `%s` has no network helper (it was not created with "
					"--network slirp)",
					id);
		if (errno == ECONNREFUSED)
			return ocr_fail(err, ECONNREFUSED, "the network helper of container `%s` is not running", id);
		return ocr_fail_errno(err, "connect to the network helper of container `%s`", id);
	}
	return steal_fd(&fd);
}

/* One request, one answer; "error" answers become ERR. */
static int api_call(const struct ocr_ctx *ctx, const char *id, json_t *req, json_t **ret_value, struct ocr_error *err)
{
	cleanup_free char *out = json_dumps(req, JSON_COMPACT);
	cleanup_free char *buf = NULL;
	cleanup_close int fd = -1;
	size_t len = 0, cap = 4096;
	json_error_t jerr;
	json_t *reply, *e;

	if (out == NULL)
		return ocr_fail(err, ENOMEM, "encode request");
	fd = api_connect(ctx, id, err);
	if (fd < 0)
		return -1;
	if (write_all(fd, out, strlen(out)) < 0)
		return ocr_fail_errno(err, "network helper API: send");
	shutdown(fd, SHUT_WR);
	buf = xmalloc(cap);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			if (cap >= API_REPLY_MAX)
				return ocr_fail(err, EFBIG, "network helper API: answer larger than %d bytes",
						API_REPLY_MAX);
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = TEMP_FAILURE_RETRY(read(fd, buf + len, cap - len - 1));
		if (n < 0)
			return ocr_fail_errno(err, "network helper API: read the answer");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	reply = json_loadb(buf, len, 0, &jerr);
	if (reply == NULL)
		return ocr_fail(err, EPROTO, "network helper API: answer is not JSON: %s", jerr.text);
	e = json_object_get(reply, "error");
	if (e) {
		const char *desc = json_string_value(json_object_get(e, "desc"));
		ocr_fail(err, EINVAL, "%s", desc ? desc : "the network helper refused the request");
		json_decref(reply);
		return -1;
	}
	*ret_value = json_incref(json_object_get(reply, "return"));
	json_decref(reply);
	if (*ret_value == NULL)
		return ocr_fail(err, EPROTO, "network helper API: answer has no \"return\"");
	return 0;
}

int network_port_add(const struct ocr_ctx *ctx, const char *id, const struct net_publish *p, int *ret_fwd_id,
		     struct ocr_error *err)
{
	json_t *req, *val = NULL;
	int rc;

	if (check_ports(ctx, p, 1, err) < 0)
		return -1;
	req = json_pack("{s:s,s:{s:s,s:s,s:i,s:i}}", "execute", "add_hostfwd", "arguments", "proto",
			p->udp ? "udp" : "tcp", "host_addr", p->host_addr[0] ? p->host_addr : "0.0.0.0", "host_port",
			(int)p->host_port, "guest_port", (int)p->container_port);
	rc = api_call(ctx, id, req, &val, err);
	json_decref(req);
	if (rc == 0) {
		*ret_fwd_id = (int)json_integer_value(json_object_get(val, "id"));
		json_decref(val);
	}
	return rc;
}

int network_port_list(const struct ocr_ctx *ctx, const char *id, json_t **ret_entries, struct ocr_error *err)
{
	json_t *req = json_pack("{s:s}", "execute", "list_hostfwd"), *val = NULL;
	int rc = api_call(ctx, id, req, &val, err);

	json_decref(req);
	if (rc < 0)
		return -1;
	*ret_entries = json_incref(json_object_get(val, "entries"));
	json_decref(val);
	if (!json_is_array(*ret_entries)) {
		json_decref(*ret_entries);
		*ret_entries = NULL;
		return ocr_fail(err, EPROTO, "network helper API: no entries in the answer");
	}
	return 0;
}

int network_port_remove(const struct ocr_ctx *ctx, const char *id, int fwd_id, struct ocr_error *err)
{
	json_t *req = json_pack("{s:s,s:{s:i}}", "execute", "remove_hostfwd", "arguments", "id", fwd_id), *val = NULL;
	int rc = api_call(ctx, id, req, &val, err);

	json_decref(req);
	json_decref(val);
	return rc;
}
