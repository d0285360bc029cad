/* micro: what single steps of the start-up path cost on this machine, to
 * rank candidates in bench/FINDINGS.md. Built three ways by profile.sh:
 * micro-libc (libc only), micro-libs (also loads libjansson, libseccomp
 * and libcap, as ocirt-rootless does, without calling them) and
 * micro-static (no dynamic loader at all).
 *
 * One-shot modes (run each under hyperfine -N; compare with `nop`):
 *   nop         exit at once: exec + loader floor
 *   getpwuid    one getpwuid(getuid()) (NSS: nsswitch.conf, /etc/passwd)
 *   localtime   one localtime_r (reads /etc/localtime)
 *   fork        fork a child that _exits, wait for it
 *
 * Loop modes (in-process, N iterations, print "MODE ns_per_op"):
 *   loop syscall N           getppid(): the floor of one syscall here
 *   loop capbset N           prctl(PR_CAPBSET_READ)
 *   loop statewrite N DIR    write DIR/s.json.tmp (300 bytes) + rename over s.json
 *   loop statenew N DIR      the same, but s.json is unlinked first (no replace)
 *   loop stateinplace N DIR  rewrite DIR/s.json in place (pwrite + ftruncate)
 *   loop mknod N             mknodat in a fresh user namespace (EPERM)
 *   loop openat2 N ROOT P    openat2(RESOLVE_IN_ROOT) of P under ROOT + close
 *   loop pipe N              a message and its answer between two processes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct ohow {
	uint64_t flags, mode, resolve;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int loop(int argc, char **argv)
{
	const char *mode = argv[2];
	long n = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
	char buf[300];
	double t0, t1;
	int dfd = -1, rfd = -1, sv[2] = {-1, -1};
	pid_t child = -1;

	memset(buf, 'x', sizeof(buf));
	if (n < 1)
		return 2;
	if (strcmp(mode, "statewrite") == 0 || strcmp(mode, "statenew") == 0 || strcmp(mode, "stateinplace") == 0) {
		if (argc < 5)
			return 2;
		dfd = open(argv[4], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			perror(argv[4]);
			return 1;
		}
	} else if (strcmp(mode, "mknod") == 0) {
		if (unshare(CLONE_NEWUSER) < 0) {
			perror("unshare");
			return 1;
		}
		dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (strcmp(mode, "openat2") == 0) {
		if (argc < 6)
			return 2;
		rfd = open(argv[4], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0) {
			perror(argv[4]);
			return 1;
		}
	} else if (strcmp(mode, "pipe") == 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return 1;
		child = fork();
		if (child == 0) {
			char c[16];
			close(sv[0]);
			while (read(sv[1], c, sizeof(c)) > 0)
				if (write(sv[1], c, sizeof(c)) < 0)
					break;
			_exit(0);
		}
		close(sv[1]);
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (strcmp(mode, "syscall") == 0) {
			(void)syscall(SYS_getppid);
		} else if (strcmp(mode, "capbset") == 0) {
			(void)prctl(PR_CAPBSET_READ, (unsigned long)(i % 41), 0, 0, 0);
		} else if (strcmp(mode, "statewrite") == 0) {
			int fd = openat(dfd, "s.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || close(fd) < 0 ||
			    renameat(dfd, "s.json.tmp", dfd, "s.json") < 0) {
				perror("statewrite");
				return 1;
			}
		} else if (strcmp(mode, "statenew") == 0) {
			int fd = openat(dfd, "s.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
			unlinkat(dfd, "s.json", 0);
			if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || close(fd) < 0 ||
			    renameat(dfd, "s.json.tmp", dfd, "s.json") < 0) {
				perror("statenew");
				return 1;
			}
		} else if (strcmp(mode, "stateinplace") == 0) {
			int fd = openat(dfd, "s.json", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
			    ftruncate(fd, sizeof(buf)) < 0 || close(fd) < 0) {
				perror("stateinplace");
				return 1;
			}
		} else if (strcmp(mode, "mknod") == 0) {
			if (mknodat(dfd, "null", S_IFCHR | 0666, makedev(1, 3)) == 0 || errno != EPERM) {
				fprintf(stderr, "mknod: expected EPERM: %s\n", strerror(errno));
				return 1;
			}
		} else if (strcmp(mode, "openat2") == 0) {
			struct ohow how = {.flags = O_PATH | O_CLOEXEC, .resolve = 0x10 | 0x02};
			int fd = (int)syscall(SYS_openat2, rfd, argv[5], &how, sizeof(how));
			if (fd < 0) {
				perror("openat2");
				return 1;
			}
			close(fd);
		} else if (strcmp(mode, "pipe") == 0) {
			char c[16] = {0};
			if (write(sv[0], c, sizeof(c)) != (ssize_t)sizeof(c) || read(sv[0], c, sizeof(c)) <= 0)
				return 1;
		} else {
			fprintf(stderr, "micro: unknown loop mode %s\n", mode);
			return 2;
		}
	}
	t1 = now_ns();
	if (dfd >= 0 && strncmp(mode, "state", 5) == 0)
		unlinkat(dfd, "s.json", 0);
	if (child > 0) {
		close(sv[0]);
		waitpid(child, NULL, 0);
	}
	printf("%s %.0f\n", mode, (t1 - t0) / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "nop";

	if (strcmp(mode, "nop") == 0)
		return 0;
	if (strcmp(mode, "getpwuid") == 0)
		return getpwuid(getuid()) ? 0 : 1;
	if (strcmp(mode, "localtime") == 0) {
		time_t t = time(NULL);
		struct tm tm;
		return localtime_r(&t, &tm) ? 0 : 1;
	}
	if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		return pid > 0 && waitpid(pid, NULL, 0) == pid ? 0 : 1;
	}
	if (strcmp(mode, "loop") == 0 && argc > 2)
		return loop(argc, argv);
	fprintf(stderr, "usage: micro nop|getpwuid|localtime|fork|loop MODE N [ARGS]\n");
	return 2;
}
