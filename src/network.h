/* Built-in rootless networking (issue: libslirp helper in net/). The
 * runtime side: decide whether a container asked for it (create/run flags
 * or bundle annotations), start the helper for a container's network
 * namespace, and stop it at delete.
 *
 * Asking for it: flags win over annotations, setting by setting.
 *   --network slirp|none            run.oci.ocirt.network=slirp|none
 *   --publish [HOSTIP:]HOSTPORT:CPORT[/tcp|udp] (repeatable)
 *                                   run.oci.ocirt.publish=SPEC[,SPEC...]
 *   --allow-host-loopback           run.oci.ocirt.allow-host-loopback=true
 *   --mtu N                         run.oci.ocirt.mtu=N
 *   --port-handler splice|slirp     run.oci.ocirt.port-handler=splice|slirp
 *                                   who serves published TCP ports
 *                                   (net/splice.c, or libslirp)
 *   --forward-host [CADDR:]CPORT:HOSTPORT[/tcp] (repeatable)
 *                                   run.oci.ocirt.forward-host=SPEC[,SPEC...]
 *                                   the container's CADDR:CPORT (default
 *                                   127.0.0.1) reaches the host's
 *                                   127.0.0.1:HOSTPORT (::1 for an IPv6
 *                                   CADDR), spliced; one port, without
 *                                   --allow-host-loopback
 *   (annotation only)               run.oci.ocirt.dns-upstream=ADDR[:PORT]
 *                                   DNS to 10.0.2.3/fd00::3 goes there
 *                                   instead of the host's resolver
 * The config must create a network namespace (linux.namespaces has
 * "network" without a path). When it joins one by path (Podman), the
 * helper is never started. */
#ifndef OCR_NETWORK_H
#define OCR_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"

#define NETWORK_ANN_MODE "run.oci.ocirt.network"
#define NETWORK_ANN_PUBLISH "run.oci.ocirt.publish"
#define NETWORK_ANN_LOOPBACK "run.oci.ocirt.allow-host-loopback"
#define NETWORK_ANN_MTU "run.oci.ocirt.mtu"
#define NETWORK_ANN_DNS_UPSTREAM "run.oci.ocirt.dns-upstream"
#define NETWORK_ANN_PORT_HANDLER "run.oci.ocirt.port-handler"
#define NETWORK_ANN_FORWARD_HOST "run.oci.ocirt.forward-host"

#define NETWORK_HELPER_NAME "ocirt-rootless-net"
#define NETWORK_HELPER_ENV "OCIRT_NET_HELPER"
#define NETWORK_API_SOCKET "net.sock"
/* Keep in step with net/net.h. */
#define NETWORK_MTU_DEFAULT 65520
#define NETWORK_MTU_MIN 576
#define NETWORK_MTU_MAX 65521
#define NETWORK_MAX_PUBLISH 256
/* Splice: published TCP ports at kernel speed (bench/FINDINGS.md, "Rootless
 * network"), at the cost of the client's address, which the container
 * sees as its own (10.0.2.100) instead of 10.0.2.2, as with rootlesskit's
 * builtin port driver and pasta. */
#define NETWORK_PORT_HANDLER_SPLICE_DEFAULT true

struct net_options {
	const char *mode; /* --network: NULL (spec decides), "none", "slirp" */
	char **publish; /* --publish [HOSTIP:]HOSTPORT:CPORT[/tcp|udp], NULL-terminated */
	bool allow_host_loopback; /* --allow-host-loopback */
	const char *mtu; /* --mtu N */
	const char *port_handler; /* --port-handler splice|slirp */
	char **forward_host; /* --forward-host [CADDR:]CPORT:HOSTPORT[/tcp], NULL-terminated */
};

/* One --publish: host ADDR:PORT -> the container's PORT. */
struct net_publish {
	bool udp;
	char host_addr[46]; /* IPv4 or IPv6 literal; "" = every address */
	unsigned host_port, container_port;
};

/* One --forward-host: the container's ADDR:PORT -> the host's loopback
 * (127.0.0.1, or ::1 for an IPv6 ADDR) PORT. */
struct net_forward_host {
	char container_addr[46]; /* IPv4 or IPv6 literal; 127.0.0.1 when left out */
	unsigned container_port, host_port;
};

/* Syntax checks, also used by the flag parser so a typo fails before
 * anything is created. Messages name the value, not the flag. */
int network_parse_mode(const char *s, struct ocr_error *err);
int network_parse_publish(const char *s, struct net_publish *ret, struct ocr_error *err);
int network_parse_forward_host(const char *s, struct net_forward_host *ret, struct ocr_error *err);
int network_parse_mtu(const char *s, unsigned *ret, struct ocr_error *err);
/* "splice" or "slirp"; RET_SPLICE: which. */
int network_parse_port_handler(const char *s, bool *ret_splice, struct ocr_error *err);
/* ADDR, ADDR:PORT (IPv4) or ADDR, [ADDR]:PORT (IPv6); port 53 when left
 * out. RET_ARG: "ADDR,PORT" for the helper's --dns-upstream (malloc'd). */
int network_parse_dns_upstream(const char *s, char **ret_arg, struct ocr_error *err);

/* Called by create once the container's init (PID) exists and before the
 * container may start. Does nothing unless networking was asked for;
 * records what it started in EXTRA (member "network"). */
int network_setup(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, const struct net_options *o,
		  pid_t pid, int state_dirfd, json_t *extra, struct ocr_error *err);
/* Called by delete (and by a failed create): stop and reap what
 * network_setup started. Idempotent. */
int network_teardown(const struct ocr_ctx *ctx, const char *id, int state_dirfd, json_t *extra, struct ocr_error *err);

/* Port forwards of a running container, through its helper's API socket
 * (ROOT/ID/net.sock). */
int network_port_add(const struct ocr_ctx *ctx, const char *id, const struct net_publish *p, int *ret_fwd_id,
		     struct ocr_error *err);
/* RET_ENTRIES: a JSON array of {id, proto, host_addr, host_port,
 * guest_addr, guest_port}, owned by the caller. */
int network_port_list(const struct ocr_ctx *ctx, const char *id, json_t **ret_entries, struct ocr_error *err);
int network_port_remove(const struct ocr_ctx *ctx, const char *id, int fwd_id, struct ocr_error *err);

#endif
