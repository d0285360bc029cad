/* The tap device: a short-lived child joins the container's user and
 * network namespaces, creates NET_TAP_NAME there, configures it over
 * rtnetlink and sends the fd back (SCM_RIGHTS). The helper itself stays
 * in the host's namespaces, where slirp's sockets must live. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "net.h"
#include "utils.h"

/* lo is the first device of every network namespace (the kernel's
 * LOOPBACK_IFINDEX). */
#define LOOPBACK_IFINDEX 1

#define TUN_PATH "/dev/net/tun"
#define TAP_CHILD_TIMEOUT_MS 10000

/* Message from the child: 'K' (ok), 'W' + text (ok, IPv6 left out) or
 * 'E' + "ERRNO message". The fd comes with K and W. */
struct tap_msg {
	char kind;
	char text[OCR_ERROR_MSG_MAX + 32];
};

static bool same_ns(pid_t pid, const char *type)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, type);
	if (stat(path, &a) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", type);
	if (stat(path, &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int net_join_container(const struct net_config *cfg, struct ocr_error *err)
{
	static const struct {
		const char *name;
		int type;
	} order[] = {{"user", CLONE_NEWUSER}, {"net", CLONE_NEWNET}};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		char path[64];
		cleanup_close int fd = -1;

		/* Joining our own user namespace again is EINVAL (and unneeded). */
		if (order[i].type == CLONE_NEWUSER && same_ns(cfg->pid, "user"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)cfg->pid, order[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ocr_fail_errno(err, "open `%s`", path);
		if (setns(fd, order[i].type) < 0)
			return ocr_fail_errno(err, "join the container's %s namespace (`%s`)", order[i].name, path);
	}
	return 0;
}

static int open_tun(struct ocr_error *err)
{
	int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return ocr_fail_errno(err, TUN_PATH " is missing: load the tun module (`modprobe tun`) or, "
						    "in a container, pass the device in");
	if (errno == EACCES || errno == EPERM)
		return ocr_fail_errno(err,
				      TUN_PATH " is not accessible to uid %u (is it mode 0600?): as root, "
					       "`chmod 0666 " TUN_PATH "` as the udev rules of distributions do",
				      (unsigned)getuid());
	return ocr_fail_errno(err, "open " TUN_PATH);
}

static void ra_off(void)
{
	/* slirp sends router advertisements; the static address and route
	 * are what we want, not a SLAAC address next to them. Best effort:
	 * /proc/sys/net is the opener's network namespace, now the
	 * container's. */
	int fd = open("/proc/sys/net/ipv6/conf/" NET_TAP_NAME "/accept_ra", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "0", 1) < 0) {
			/* keep the default */
		}
		close(fd);
	}
}

static int configure(int ifindex, const struct net_config *cfg, bool *ipv6, char *warning, size_t wlen,
		     struct ocr_error *err)
{
	cleanup_close int nl = nl_open(err);
	struct in_addr a4, gw4;
	struct in6_addr a6, gw6;
	struct ocr_error e6 = {0};

	if (nl < 0)
		return -1;
	inet_pton(AF_INET, NET_GUEST, &a4);
	inet_pton(AF_INET, NET_VHOST, &gw4);
	inet_pton(AF_INET6, NET_GUEST6, &a6);
	inet_pton(AF_INET6, NET_VHOST6, &gw6);
	if (*ipv6)
		ra_off();
	/* The container's init brings lo up only once we are ready, but the
	 * listeners of --forward-host are bound to 127.0.0.1 or ::1 before. */
	if (cfg->n_host_forwards && nl_link_up(nl, LOOPBACK_IFINDEX, err) < 0)
		return -1;
	if (nl_link_setup(nl, ifindex, cfg->mtu, err) < 0 ||
	    nl_addr_add(nl, ifindex, AF_INET, &a4, NET_VPREFIX_LEN, err) < 0 ||
	    nl_route_default(nl, ifindex, AF_INET, &gw4, err) < 0)
		return -1;
	if (!*ipv6)
		return 0;
	if (nl_addr_add(nl, ifindex, AF_INET6, &a6, NET_VPREFIX6_LEN, &e6) < 0 ||
	    nl_route_default(nl, ifindex, AF_INET6, &gw6, &e6) < 0) {
		ocr_error_format(&e6, warning, wlen);
		*ipv6 = false;
	}
	return 0;
}

static int if_index(struct ocr_error *err)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", NET_TAP_NAME);
	if (s < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		return ocr_fail_errno(err, "find `" NET_TAP_NAME "`");
	return ifr.ifr_ifindex;
}

static int tap_open_configured(const struct net_config *cfg, bool *ipv6, char *warning, size_t wlen,
			       struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct ifreq ifr = {0};
	int ifindex;

	if (net_join_container(cfg, err) < 0)
		return -1;
	fd = open_tun(err);
	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (cfg->offload ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", NET_TAP_NAME);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return ocr_fail_errno(err, "create tap device `" NET_TAP_NAME "` in the container's network namespace");
	ifindex = if_index(err);
	if (ifindex < 0)
		return -1;
	if (configure(ifindex, cfg, ipv6, warning, wlen, err) < 0)
		return ocr_wrap(err, "configure `" NET_TAP_NAME "`");
	return steal_fd(&fd);
}

static int send_msg(int sock, const struct tap_msg *m, int fd)
{
	return send_with_fd(sock, fd, m, 1 + strlen(m->text)) < 0 ? -1 : 0;
}

__attribute__((noreturn)) static void tap_child(const struct net_config *cfg, bool ipv6, int sock)
{
	struct ocr_error err = {0};
	struct tap_msg m = {0};
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = tap_open_configured(cfg, &ipv6, m.text + 0, sizeof(m.text), &err);
	if (fd < 0) {
		char msg[OCR_ERROR_MSG_MAX];
		ocr_error_format(&err, msg, sizeof(msg));
		m.kind = 'E';
		snprintf(m.text, sizeof(m.text), "%d %s", err.err, msg);
	} else {
		m.kind = m.text[0] ? 'W' : 'K';
	}
	_exit(send_msg(sock, &m, fd) < 0 ? 1 : 0);
}

static int recv_msg(int sock, struct tap_msg *m, int *ret_fd, struct ocr_error *err)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	ssize_t n;

	*ret_fd = -1;
	if (TEMP_FAILURE_RETRY(poll(&p, 1, TAP_CHILD_TIMEOUT_MS)) == 0)
		return ocr_fail(err, ETIMEDOUT, "set up `" NET_TAP_NAME "`: no answer within %d s",
				TAP_CHILD_TIMEOUT_MS / 1000);
	n = recv_with_fd(sock, m, sizeof(*m) - 1, ret_fd);
	if (n < 0)
		return ocr_fail_errno(err, "set up `" NET_TAP_NAME "`");
	if (n == 0)
		return ocr_fail(err, EPIPE, "set up `" NET_TAP_NAME "`: the child died");
	((char *)m)[n] = '\0';
	return 0;
}

int tap_create(const struct net_config *cfg, bool *ipv6, struct ocr_error *err)
{
	struct tap_msg m = {0};
	int sv[2], fd = -1, rc;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ocr_fail_errno(err, "socketpair");
	child = fork();
	if (child < 0) {
		close(sv[0]);
		close(sv[1]);
		return ocr_fail_errno(err, "fork");
	}
	if (child == 0) {
		close(sv[0]);
		tap_child(cfg, *ipv6, sv[1]);
	}
	close(sv[1]);
	rc = recv_msg(sv[0], &m, &fd, err);
	close(sv[0]);
	if (rc < 0)
		kill(child, SIGKILL);
	TEMP_FAILURE_RETRY(waitpid(child, NULL, 0));
	if (rc < 0)
		return -1;
	if (m.kind == 'E') {
		char *msg = NULL;
		long e = strtol(m.text, &msg, 10);
		if (fd >= 0)
			close(fd);
		return ocr_fail(err, (int)e, "%s", msg && *msg == ' ' ? msg + 1 : m.text);
	}
	if (fd < 0)
		return ocr_fail(err, EPROTO, "set up `" NET_TAP_NAME "`: no fd came back");
	if (m.kind == 'W') {
		net_debug("IPv6 left out: %s", m.text);
		*ipv6 = false;
	}
	/* What the guest may leave to us: checksums and TCP segmentation.
	 * Without it the frames still carry the (empty) header. */
	if (cfg->offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		net_debug("tap offloads refused (%s): the container computes checksums and segments", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		ocr_fail_errno(err, "tap fd: O_NONBLOCK");
		close(fd);
		return -1;
	}
	return fd;
}
