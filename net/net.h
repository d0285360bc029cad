/* ocirt-rootless-net: the network helper of one container. The runtime
 * starts it during create with the container init's pid; it makes a tap
 * device in the container's network namespace, runs libslirp for it in the
 * host's network namespace and serves an API socket for port forwards.
 *
 * Files: main.c (arguments, start-up order, ready handshake, log),
 * tap.c (the short-lived child that joins the container's namespaces),
 * netlink.c (rtnetlink: link, address, route), slirp.c (SlirpCb table
 * and poll loop), api.c (JSON API socket), sandbox.c (empty root, no
 * capabilities, seccomp), splice.c (the splice relay for published TCP
 * ports and --forward-host) and sockfactory.c (its sockets in the
 * container's network namespace). */
#ifndef OCR_NET_H
#define OCR_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The virtual network, as slirp4netns lays it out. */
#define NET_VNETWORK "10.0.2.0"
#define NET_VNETMASK "255.255.255.0"
#define NET_VPREFIX_LEN 24
#define NET_VHOST "10.0.2.2"
#define NET_VDNS "10.0.2.3"
#define NET_GUEST "10.0.2.100"
#define NET_VPREFIX6 "fd00::"
#define NET_VPREFIX6_LEN 64
#define NET_VHOST6 "fd00::2"
#define NET_VDNS6 "fd00::3"
#define NET_GUEST6 "fd00::100"
#define NET_TAP_NAME "tap0"
#define NET_MTU_DEFAULT 65520
#define NET_MTU_MIN 576
#define NET_MTU_MAX 65521
#define NET_IPV6_MTU_MIN 1280
/* libslirp's own MTU while the tap has offloads (offload.c). */
#define NET_SLIRP_MTU_OFFLOAD 65520

#define NET_MAX_FORWARDS 256

/* One port forward: host ADDR:PORT -> guest ADDR:PORT; or, with to_host
 * (--forward-host), the other way: a listener on the container's
 * ADDR:PORT whose connections go to the host's loopback PORT. */
struct net_forward {
	int id;
	bool udp;
	bool to_host;
	int family; /* AF_INET or AF_INET6 (of both ends) */
	struct sockaddr_storage host, guest;
};

/* Who serves published TCP ports: libslirp's hostfwd, or splice.c. UDP
 * ports always go through libslirp. */
enum net_port_handler { NET_PORT_SLIRP, NET_PORT_SPLICE };

struct net_config {
	const char *id; /* container id, for messages */
	pid_t pid; /* container init */
	unsigned long long pid_starttime;
	unsigned mtu;
	bool allow_host_loopback;
	bool ipv6;
	bool sandbox, seccomp;
	bool offload; /* tap with virtio-net headers, CSUM + TSO */
	enum net_port_handler port_handler;
	int ready_fd; /* report "ok" or the error here, then close */
	int api_dirfd; /* directory of the API socket, or -1 */
	const char *api_name;
	struct net_forward forwards[NET_MAX_FORWARDS];
	size_t n_forwards;
	struct net_forward host_forwards[NET_MAX_FORWARDS]; /* to_host */
	size_t n_host_forwards;
	int unprivileged_port_start;
	struct sockaddr_storage dns_upstream; /* where DNS queries go instead */
	socklen_t dns_upstream_len; /* 0: libslirp's way, the host's resolver */
};

/* Log lines go to stderr (the runtime points it at its --log file). */
void net_log_setup(const char *id, bool debug, bool json);
void net_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void net_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tap.c: create NET_TAP_NAME in the namespaces of PID and configure it;
 * returns the tap fd (O_NONBLOCK, O_CLOEXEC). IPv6 is configured when
 * *IPV6 and dropped (with *IPV6 cleared and a debug line) when the
 * container's kernel refuses it. With cfg->offload every frame on the fd
 * carries a struct virtio_net_hdr and the container's kernel may hand us
 * unchecksummed TCP/UDP and TCP segments larger than the MTU (TSO). */
int tap_create(const struct net_config *cfg, bool *ipv6, struct ocr_error *err);
/* Join the user (unless it is ours) and network namespaces of cfg->pid;
 * for children that stay there (the tap's, the socket factory). */
int net_join_container(const struct net_config *cfg, struct ocr_error *err);

/* netlink.c, in the current network namespace. */
int nl_open(struct ocr_error *err);
int nl_link_setup(int nl, int ifindex, unsigned mtu, struct ocr_error *err);
int nl_link_up(int nl, int ifindex, struct ocr_error *err);
int nl_addr_add(int nl, int ifindex, int family, const void *addr, unsigned prefixlen, struct ocr_error *err);
int nl_route_default(int nl, int ifindex, int family, const void *gateway, struct ocr_error *err);

/* Forwards: parse "PROTO,HOSTIP,HOSTPORT,CPORT" (as the runtime passes
 * them) and describe one for messages. */
int forward_parse(const char *s, struct net_forward *ret, struct ocr_error *err);
/* "CADDR,CPORT,HOSTPORT" (--forward-host): to the host's 127.0.0.1, or
 * ::1 when CADDR is IPv6. */
int forward_host_parse(const char *s, struct net_forward *ret, struct ocr_error *err);
int forward_make(bool udp, const char *host_addr, long host_port, const char *guest_addr, long guest_port,
		 struct net_forward *ret, struct ocr_error *err);
void forward_describe(const struct net_forward *f, char *buf, size_t len);

/* sockfactory.c: a process in the container's network namespace that
 * makes TCP sockets there for the helper (started before the sandbox). */
struct sockfactory;
int sockfactory_start(const struct net_config *cfg, struct sockfactory **ret, struct ocr_error *err);
/* A new TCP socket of FAMILY in the container's network namespace,
 * O_NONBLOCK and O_CLOEXEC; bounded in time. */
int sockfactory_socket(struct sockfactory *f, int family, struct ocr_error *err);
/* A TCP socket listening on ADDR in the container's network namespace;
 * a failed bind keeps its errno (the message is only strerror's). */
int sockfactory_listen(struct sockfactory *f, const struct sockaddr_storage *addr, struct ocr_error *err);
void sockfactory_free(struct sockfactory *f);

/* splice.c: published TCP ports served by splicing a host socket to one
 * in the container's network namespace, and --forward-host the other way
 * round. Takes FACTORY (freed with it). */
struct splice_handler;
int splice_new(struct sockfactory *factory, struct splice_handler **ret, struct ocr_error *err);
void splice_free(struct splice_handler *s);
/* Listen on F's host address, or with F->to_host on its container
 * address; errors keep the errno of bind/listen. */
int splice_listen(struct splice_handler *s, const struct net_forward *f, struct ocr_error *err);
/* Stop listening for forward ID; false when it is not ours. */
bool splice_unlisten(struct splice_handler *s, int id);
/* The epoll fd to poll for input; -1 without a handler. */
int splice_fd(const struct splice_handler *s);
/* Clamp TIMEOUT (ms) to the next connect deadline or listener resume. */
void splice_timeout(const struct splice_handler *s, uint32_t *timeout, int64_t now);
/* After the poll: READY when splice_fd() had input. */
void splice_poll(struct splice_handler *s, bool ready, int64_t now);

/* slirp.c */
struct net_loop;
/* Takes SPLICE (NULL: libslirp serves every port). */
int loop_new(const struct net_config *cfg, int tapfd, struct splice_handler *splice, struct net_loop **ret,
	     struct ocr_error *err);
/* Add a forward; fills the error with the cause (port in use, port below
 * the unprivileged range, ...). Assigns f->id. */
int loop_add_forward(struct net_loop *l, struct net_forward *f, struct ocr_error *err);
int loop_remove_forward(struct net_loop *l, int id, struct ocr_error *err);
const struct net_forward *loop_forwards(const struct net_loop *l, size_t *ret_n);
/* Runs until the container goes away or a signal asks us to stop;
 * returns 0 then, -1 on an error. */
int loop_run(struct net_loop *l, int apifd, struct ocr_error *err);
void loop_free(struct net_loop *l);

/* offload.c: a frame read from a tap with virtio-net headers (BUF, N):
 * checksums finished, SYN MSS raised to MSS4/MSS6 (0: left alone).
 * Returns the frame's length (at *RET_FRAME), -1 when malformed. */
struct virtio_net_hdr;
ssize_t offload_from_guest(uint8_t *buf, size_t n, unsigned mss4, unsigned mss6, uint8_t **ret_frame);
/* A SYN libslirp sends: its MSS option set to MSS4/MSS6, checksum kept. */
void offload_syn_to_guest(uint8_t *frame, size_t len, unsigned mss4, unsigned mss6);
/* The header for a frame libslirp sends: GSO for TCP beyond TAP_MTU. */
void offload_to_guest(const uint8_t *frame, size_t len, unsigned tap_mtu, struct virtio_net_hdr *h);

/* The one's complement sum of RFC 1071 over P, folded to 16 bits, in
 * memory order (store it with memcpy); not complemented. Sums of blocks
 * that start at even offsets add up with end-around carry. */
uint16_t net_csum(const uint8_t *p, size_t len);

/* A UDP datagram in an Ethernet frame, unfragmented, without IPv6
 * extension headers. */
struct udp_view {
	int family;
	const uint8_t *src, *dst; /* 4 or 16 bytes */
	uint16_t sport, dport;
	const uint8_t *payload;
	size_t len;
};
bool udp_parse(const uint8_t *f, size_t n, struct udp_view *v);

/* udpfwd.c: answers of published UDP ports to loopback clients while
 * host loopback is disabled (libslirp would drop them). */
struct udp_sessions;
struct udp_sessions *udp_sessions_new(void);
void udp_sessions_free(struct udp_sessions *t);
/* A frame libslirp sends to the container: remember forward sessions. */
void udp_sessions_note(struct udp_sessions *t, const struct net_forward *fw, size_t n, const uint8_t *frame,
		       size_t len);
/* A frame from the container: true when it was a forward's answer and was
 * delivered (FDS: libslirp's current poll fds, GPollFD). */
struct _GPollFD;
bool udp_sessions_answer(struct udp_sessions *t, const struct net_forward *fw, size_t n, const struct _GPollFD *fds,
			 size_t n_fds, const uint8_t *frame, size_t len);

/* dns.c: UDP queries to the virtual nameserver, forwarded to an upstream
 * of the runtime's choosing instead of the host's resolver. */
struct dns_proxy;
typedef ssize_t (*dns_send_fn)(const void *frame, size_t len, void *opaque);
/* "ADDR,PORT" (as the runtime passes it). */
int dns_upstream_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, struct ocr_error *err);
struct dns_proxy *dns_proxy_new(const struct sockaddr_storage *upstream, socklen_t len, unsigned mtu, dns_send_fn send,
				void *opaque);
void dns_proxy_free(struct dns_proxy *d);
/* A frame from the container: true when it was a query for the upstream
 * (taken, or dropped); NOW in ms. */
bool dns_proxy_query(struct dns_proxy *d, const uint8_t *frame, size_t len, int64_t now);
/* Around the poll: add the upstream sockets (and clamp TIMEOUT to the
 * next expiry), then deliver the answers that came. */
struct _GArray;
void dns_proxy_fill(struct dns_proxy *d, struct _GArray *pollfds, uint32_t *timeout, int64_t now);
void dns_proxy_poll(struct dns_proxy *d, const struct _GArray *pollfds);

/* api.c */
int api_listen(int dirfd, const char *name, struct ocr_error *err);
/* Serve one connection on the listening socket (bounded in size and time). */
void api_handle(struct net_loop *l, int listenfd);

/* sandbox.c: after this the process cannot open host files outside /etc
 * and /run (read-only), has no capabilities and cannot exec, mount,
 * ptrace or change namespaces. Steps that an unprivileged process cannot
 * take are skipped with a debug line. */
int sandbox_enter(const struct net_config *cfg, struct ocr_error *err);

#endif
