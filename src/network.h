/* Built-in rootless networking (issue: libslirp helper in net/). The
 * runtime side: decide whether a container asked for it (create/run flags
 * or bundle annotations), start the helper for a container's network
 * namespace, and stop it at delete. */
#ifndef OCR_NETWORK_H
#define OCR_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"

struct net_options {
	const char *mode;          /* --network: NULL (spec decides), "none", "slirp" */
	char **publish;            /* --publish [HOSTIP:]HOSTPORT:CPORT[/tcp|udp], NULL-terminated */
	bool allow_host_loopback;  /* --allow-host-loopback */
	const char *mtu;           /* --mtu N */
};

/* Called by create once the container's init (PID) exists and before the
 * container may start. Does nothing unless networking was asked for;
 * records what it started in EXTRA (member "network"). */
int network_setup(const struct ocr_ctx *ctx, const char *id, const struct spec *spec,
		  const struct net_options *o, pid_t pid, int state_dirfd, json_t *extra,
		  struct ocr_error *err);
/* Called by delete (and by a failed create): stop and reap what
 * network_setup started. Idempotent. */
int network_teardown(const struct ocr_ctx *ctx, const char *id, int state_dirfd, json_t *extra,
		     struct ocr_error *err);

#endif
