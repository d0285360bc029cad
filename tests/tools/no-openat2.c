/* no-openat2: run a command on what looks like a kernel older than 5.6.
 *
 *   no-openat2 COMMAND [ARG...]
 *
 * Installs a seccomp filter under which openat2 fails with ENOSYS, as on a
 * kernel that does not have it, and execs COMMAND; the filter is inherited
 * by every child, so the runtime and the container init it forks both take
 * their user-space path resolution (src/resolve.c).
 *
 * An unprivileged caller can only install a filter with no_new_privs set,
 * and that is inherited too: setuid or file-capability helpers
 * (newuidmap) gain nothing under it, so use a config that maps only the
 * caller's own id.
 *
 * Exit status: COMMAND's, or 127 when the filter or the exec fails. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef __NR_openat2
#define __NR_openat2 437 /* the same on every architecture */
#endif

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: no-openat2 COMMAND [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL) {
		fprintf(stderr, "no-openat2: seccomp_init failed\n");
		return 127;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), __NR_openat2, 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "no-openat2: seccomp filter: %s\n", strerror(-r));
		return 127;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-openat2: exec %s: %s\n", argv[1], strerror(errno));
	return 127;
}
