/* rtnetlink over a raw socket: just what a tap device needs (MTU + up,
 * an address, a default route). No iproute2. */
#include <errno.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "utils.h"

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	};
	char attrs[128];
};

static int add_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len);
	struct rtattr *rta = (struct rtattr *)((char *)r + off);

	if (off + RTA_SPACE(len) > sizeof(*r))
		return -1;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = (unsigned)(off + RTA_SPACE(len));
	return 0;
}

int nl_open(struct ocr_error *err)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return ocr_fail_errno(err, "netlink socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ocr_fail_errno(err, "netlink bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request with NLM_F_ACK and wait for its answer. */
static int nl_talk(int nl, struct nl_req *r, const char *what, struct ocr_error *err)
{
	static unsigned seq;
	char buf[4096];
	ssize_t n;

	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = ++seq;
	if (TEMP_FAILURE_RETRY(send(nl, r, r->nh.nlmsg_len, 0)) < 0)
		return ocr_fail_errno(err, "netlink: %s", what);
	for (;;) {
		struct nlmsghdr *h;
		n = TEMP_FAILURE_RETRY(recv(nl, buf, sizeof(buf), 0));
		if (n < 0)
			return ocr_fail_errno(err, "netlink: %s", what);
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			struct nlmsgerr *e;
			if (h->nlmsg_seq != r->nh.nlmsg_seq)
				continue;
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			e = NLMSG_DATA(h);
			if (e->error == 0)
				return 0;
			errno = -e->error;
			return ocr_fail_errno(err, "netlink: %s", what);
		}
	}
}

/* RTM_NEWLINK: IFF_UP, and the MTU when one is given (MTU 0: keep it). */
static int link_up(int nl, int ifindex, unsigned mtu, const char *what, struct ocr_error *err)
{
	struct nl_req r = {0};

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_NEWLINK;
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	r.ifi.ifi_flags = IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	if (mtu && add_attr(&r, IFLA_MTU, &mtu, sizeof(mtu)) < 0)
		return ocr_fail(err, EOVERFLOW, "netlink: message too long");
	return nl_talk(nl, &r, what, err);
}

int nl_link_setup(int nl, int ifindex, unsigned mtu, struct ocr_error *err)
{
	return link_up(nl, ifindex, mtu, "set MTU and bring " NET_TAP_NAME " up", err);
}

int nl_link_up(int nl, int ifindex, struct ocr_error *err)
{
	return link_up(nl, ifindex, 0, "bring lo up", err);
}

int nl_addr_add(int nl, int ifindex, int family, const void *addr, unsigned prefixlen, struct ocr_error *err)
{
	struct nl_req r = {0};
	size_t alen = family == AF_INET ? 4 : 16;
	unsigned flags = IFA_F_NODAD; /* usable at once; nobody else is on the link */

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = RTM_NEWADDR;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.ifa.ifa_family = (unsigned char)family;
	r.ifa.ifa_prefixlen = (unsigned char)prefixlen;
	r.ifa.ifa_index = (unsigned)ifindex;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	if (add_attr(&r, IFA_LOCAL, addr, alen) < 0 || add_attr(&r, IFA_ADDRESS, addr, alen) < 0 ||
	    (family == AF_INET6 && add_attr(&r, IFA_FLAGS, &flags, sizeof(flags)) < 0))
		return ocr_fail(err, EOVERFLOW, "netlink: message too long");
	return nl_talk(nl, &r, family == AF_INET ? "add IPv4 address" : "add IPv6 address", err);
}

int nl_route_default(int nl, int ifindex, int family, const void *gateway, struct ocr_error *err)
{
	struct nl_req r = {0};
	size_t alen = family == AF_INET ? 4 : 16;
	unsigned oif = (unsigned)ifindex;

	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.nh.nlmsg_type = RTM_NEWROUTE;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.rt.rtm_family = (unsigned char)family;
	r.rt.rtm_table = RT_TABLE_MAIN;
	r.rt.rtm_protocol = RTPROT_BOOT;
	r.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	r.rt.rtm_type = RTN_UNICAST;
	if (add_attr(&r, RTA_GATEWAY, gateway, alen) < 0 || add_attr(&r, RTA_OIF, &oif, sizeof(oif)) < 0)
		return ocr_fail(err, EOVERFLOW, "netlink: message too long");
	return nl_talk(nl, &r, family == AF_INET ? "add IPv4 default route" : "add IPv6 default route", err);
}
