/* The API socket (one per container, in its state directory) and the
 * forward descriptions it and the command line share. Requests and
 * answers are slirp4netns' JSON:
 *   {"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1",
 *    "host_port": 8080, "guest_port": 80}}          -> {"return": {"id": 1}}
 *   {"execute": "list_hostfwd"}                      -> {"return": {"entries": [...]}}
 *   {"execute": "remove_hostfwd", "arguments": {"id": 1}} -> {"return": {}}
 * and {"error": {"desc": "..."}} on failure. One request per connection. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "net.h"
#include "utils.h"

#define API_REQUEST_MAX 4096
#define API_TIMEOUT_SEC 2

/* ---- forward descriptions --------------------------------------------- */

static bool in_vnetwork4(const struct in_addr *a)
{
	struct in_addr net, mask;

	inet_pton(AF_INET, NET_VNETWORK, &net);
	inet_pton(AF_INET, NET_VNETMASK, &mask);
	return (a->s_addr & mask.s_addr) == net.s_addr;
}

static bool in_vnetwork6(const struct in6_addr *a)
{
	struct in6_addr p;

	inet_pton(AF_INET6, NET_VPREFIX6, &p);
	return memcmp(a, &p, NET_VPREFIX6_LEN / 8) == 0;
}

int forward_make(bool udp, const char *host_addr, long host_port, const char *guest_addr, long guest_port,
		 struct net_forward *ret, struct ocr_error *err)
{
	struct sockaddr_in *h4 = (void *)&ret->host, *g4 = (void *)&ret->guest;
	struct sockaddr_in6 *h6 = (void *)&ret->host, *g6 = (void *)&ret->guest;

	memset(ret, 0, sizeof(*ret));
	ret->udp = udp;
	if (host_addr == NULL || host_addr[0] == '\0')
		host_addr = "0.0.0.0";
	if (host_port < 1 || host_port > 65535)
		return ocr_fail(err, EINVAL, "host port %ld is not in 1..65535", host_port);
	if (guest_port < 1 || guest_port > 65535)
		return ocr_fail(err, EINVAL, "container port %ld is not in 1..65535", guest_port);
	if (inet_pton(AF_INET, host_addr, &h4->sin_addr) == 1) {
		ret->family = AF_INET;
		h4->sin_family = g4->sin_family = AF_INET;
		h4->sin_port = htons((uint16_t)host_port);
		g4->sin_port = htons((uint16_t)guest_port);
		if (guest_addr == NULL || guest_addr[0] == '\0')
			guest_addr = NET_GUEST;
		if (inet_pton(AF_INET, guest_addr, &g4->sin_addr) != 1 || !in_vnetwork4(&g4->sin_addr))
			return ocr_fail(err, EINVAL, "container address `%s` is not an IPv4 address in %s/%d",
					guest_addr, NET_VNETWORK, NET_VPREFIX_LEN);
		return 0;
	}
	if (inet_pton(AF_INET6, host_addr, &h6->sin6_addr) == 1) {
		ret->family = AF_INET6;
		h6->sin6_family = g6->sin6_family = AF_INET6;
		h6->sin6_port = htons((uint16_t)host_port);
		g6->sin6_port = htons((uint16_t)guest_port);
		if (guest_addr == NULL || guest_addr[0] == '\0')
			guest_addr = NET_GUEST6;
		if (inet_pton(AF_INET6, guest_addr, &g6->sin6_addr) != 1 || !in_vnetwork6(&g6->sin6_addr))
			return ocr_fail(err, EINVAL, "container address `%s` is not an IPv6 address in %s/%d",
					guest_addr, NET_VPREFIX6, NET_VPREFIX6_LEN);
		return 0;
	}
	return ocr_fail(err, EINVAL, "host address `%s` is not an IPv4 or IPv6 address", host_addr);
}

/* "PROTO,HOSTIP,HOSTPORT,CPORT", as the runtime writes --forward. */
int forward_parse(const char *s, struct net_forward *ret, struct ocr_error *err)
{
	char proto[8], host[INET6_ADDRSTRLEN];
	long hp, cp;
	int n = 0;

	if (sscanf(s, "%7[a-z],%45[0-9a-fA-F.:],%ld,%ld%n", proto, host, &hp, &cp, &n) != 4 || s[n] != '\0')
		return ocr_fail(err, EINVAL, "--forward `%s`: not PROTO,HOSTIP,HOSTPORT,CPORT", s);
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return ocr_fail(err, EINVAL, "--forward `%s`: protocol is not tcp or udp", s);
	if (forward_make(strcmp(proto, "udp") == 0, host, hp, NULL, cp, ret, err) < 0)
		return ocr_wrap(err, "--forward `%s`", s);
	return 0;
}

int forward_host_parse(const char *s, struct net_forward *ret, struct ocr_error *err)
{
	char caddr[INET6_ADDRSTRLEN];
	struct sockaddr_in *h4 = (void *)&ret->host, *g4 = (void *)&ret->guest;
	struct sockaddr_in6 *h6 = (void *)&ret->host, *g6 = (void *)&ret->guest;
	long cp, hp;
	int n = 0;

	memset(ret, 0, sizeof(*ret));
	ret->to_host = true;
	if (sscanf(s, "%45[0-9a-fA-F.:],%ld,%ld%n", caddr, &cp, &hp, &n) != 3 || s[n] != '\0')
		return ocr_fail(err, EINVAL, "--forward-host `%s`: not CADDR,CPORT,HOSTPORT", s);
	if (cp < 1 || cp > 65535 || hp < 1 || hp > 65535)
		return ocr_fail(err, EINVAL, "--forward-host `%s`: a port is not in 1..65535", s);
	/* Only the host's loopback: this is a narrow door to one service
	 * there, not --allow-host-loopback. */
	if (inet_pton(AF_INET, caddr, &g4->sin_addr) == 1) {
		ret->family = AF_INET;
		g4->sin_family = h4->sin_family = AF_INET;
		g4->sin_port = htons((uint16_t)cp);
		h4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		h4->sin_port = htons((uint16_t)hp);
		return 0;
	}
	if (inet_pton(AF_INET6, caddr, &g6->sin6_addr) == 1) {
		ret->family = AF_INET6;
		g6->sin6_family = h6->sin6_family = AF_INET6;
		g6->sin6_port = htons((uint16_t)cp);
		h6->sin6_addr = in6addr_loopback;
		h6->sin6_port = htons((uint16_t)hp);
		return 0;
	}
	return ocr_fail(err, EINVAL, "--forward-host `%s`: `%s` is not an IPv4 or IPv6 address", s, caddr);
}

/* ---- socket ----------------------------------------------------------- */

int api_listen(int dirfd, const char *name, struct ocr_error *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	mode_t old;
	int rc;

	if (strchr(name, '/') || (size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s", dirfd,
						  name) >= sizeof(sun.sun_path))
		return ocr_fail(err, ENAMETOOLONG, "API socket name `%s`", name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ocr_fail_errno(err, "API socket");
	unlinkat(dirfd, name, 0);
	old = umask(0077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0)
		return ocr_fail_errno(err, "bind API socket `%s`", name);
	if (listen(fd, 8) < 0)
		return ocr_fail_errno(err, "listen on API socket `%s`", name);
	return steal_fd(&fd);
}

/* ---- requests --------------------------------------------------------- */

static json_t *reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *reply_error(const char *fmt, ...)
{
	char desc[OCR_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	return json_pack("{s:{s:s}}", "error", "desc", desc);
}

static json_t *reply_ocr_error(const struct ocr_error *err)
{
	char msg[OCR_ERROR_MSG_MAX + 128];

	ocr_error_format(err, msg, sizeof(msg));
	return reply_error("%s", msg);
}

static bool parse_proto(const char *proto, bool *udp)
{
	/* slirp4netns also accepts tcp4/tcp6/udp4/udp6; the address decides. */
	if (proto == NULL || strcmp(proto, "tcp") == 0 || strcmp(proto, "tcp4") == 0 || strcmp(proto, "tcp6") == 0)
		*udp = false;
	else if (strcmp(proto, "udp") == 0 || strcmp(proto, "udp4") == 0 || strcmp(proto, "udp6") == 0)
		*udp = true;
	else
		return false;
	return true;
}

static json_t *do_add(struct net_loop *l, json_t *args)
{
	struct ocr_error err = {0};
	struct net_forward f;
	const char *proto = NULL, *host = NULL, *guest = NULL;
	json_int_t hp = 0, gp = 0;
	json_error_t jerr;
	bool udp;

	if (args == NULL || json_unpack_ex(args, &jerr, 0, "{s?s,s?s,s:I,s?s,s:I}", "proto", &proto, "host_addr", &host,
					   "host_port", &hp, "guest_addr", &guest, "guest_port", &gp) < 0)
		return reply_error("add_hostfwd: arguments: %s", args ? jerr.text : "missing");
	if (!parse_proto(proto, &udp))
		return reply_error("add_hostfwd: proto `%s` is not tcp or udp", proto);
	if (forward_make(udp, host, (long)hp, guest, (long)gp, &f, &err) < 0 || loop_add_forward(l, &f, &err) < 0)
		return reply_ocr_error(&err);
	return json_pack("{s:{s:i}}", "return", "id", f.id);
}

static json_t *entry_of(const struct net_forward *f)
{
	char h[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	unsigned hp, gp;

	if (f->family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&f->host, *b = (const void *)&f->guest;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
		inet_ntop(AF_INET6, &b->sin6_addr, g, sizeof(g));
		hp = ntohs(a->sin6_port);
		gp = ntohs(b->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)&f->host, *b = (const void *)&f->guest;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		inet_ntop(AF_INET, &b->sin_addr, g, sizeof(g));
		hp = ntohs(a->sin_port);
		gp = ntohs(b->sin_port);
	}
	return json_pack("{s:i,s:s,s:s,s:i,s:s,s:i}", "id", f->id, "proto", f->udp ? "udp" : "tcp", "host_addr", h,
			 "host_port", (int)hp, "guest_addr", g, "guest_port", (int)gp);
}

static json_t *do_list(struct net_loop *l)
{
	json_t *entries = json_array();
	size_t n;
	const struct net_forward *f = loop_forwards(l, &n);

	for (size_t i = 0; i < n; i++)
		json_array_append_new(entries, entry_of(&f[i]));
	return json_pack("{s:{s:o}}", "return", "entries", entries);
}

static json_t *do_remove(struct net_loop *l, json_t *args)
{
	struct ocr_error err = {0};
	json_int_t id = 0;
	json_error_t jerr;

	if (args == NULL || json_unpack_ex(args, &jerr, 0, "{s:I}", "id", &id) < 0)
		return reply_error("remove_hostfwd: arguments: %s", args ? jerr.text : "missing");
	if (id < 1 || id > INT32_MAX || loop_remove_forward(l, (int)id, &err) < 0)
		return err.msg[0] ? reply_ocr_error(&err) : reply_error("no forward with id %lld", (long long)id);
	return json_pack("{s:{}}", "return");
}

static json_t *dispatch(struct net_loop *l, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(buf, len, 0, &jerr);
	json_t *args, *reply;
	const char *cmd;

	if (req == NULL)
		return reply_error("request is not JSON: %s", jerr.text);
	cmd = json_string_value(json_object_get(req, "execute"));
	args = json_object_get(req, "arguments");
	if (cmd == NULL)
		reply = reply_error("request has no \"execute\" string");
	else if (strcmp(cmd, "add_hostfwd") == 0)
		reply = do_add(l, args);
	else if (strcmp(cmd, "list_hostfwd") == 0)
		reply = do_list(l);
	else if (strcmp(cmd, "remove_hostfwd") == 0)
		reply = do_remove(l, args);
	else
		reply = reply_error("unknown command `%s` (add_hostfwd, list_hostfwd, remove_hostfwd)", cmd);
	json_decref(req);
	return reply;
}

/* Read one request: until it parses as JSON, EOF, the size limit or the
 * timeout. */
static ssize_t read_request(int fd, char *buf, size_t max)
{
	size_t len = 0;

	while (len < max) {
		ssize_t n = TEMP_FAILURE_RETRY(read(fd, buf + len, max - len));
		json_error_t jerr;
		json_t *j;
		if (n < 0)
			return len > 0 ? (ssize_t)len : -1;
		if (n == 0)
			break;
		len += (size_t)n;
		j = json_loadb(buf, len, 0, &jerr);
		if (j) {
			json_decref(j);
			break;
		}
	}
	return (ssize_t)len;
}

void api_handle(struct net_loop *l, int listenfd)
{
	struct timeval tv = {.tv_sec = API_TIMEOUT_SEC};
	cleanup_close int fd = TEMP_FAILURE_RETRY(accept4(listenfd, NULL, NULL, SOCK_CLOEXEC));
	cleanup_free char *out = NULL;
	char buf[API_REQUEST_MAX];
	json_t *reply;
	ssize_t n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = read_request(fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	reply = dispatch(l, buf, (size_t)n);
	out = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	if (out) {
		size_t len = strlen(out);
		out[len] = '\n';
		if (send(fd, out, len + 1, MSG_NOSIGNAL) < 0)
			net_debug("API reply: %s", strerror(errno));
	}
}
