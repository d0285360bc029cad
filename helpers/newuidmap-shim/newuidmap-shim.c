/* newuidmap-shim [--gid] PID ID LOWERID COUNT [ID LOWERID COUNT]...
 *
 * Writes /proc/PID/uid_map (gid_map with --gid, after setgroups as
 * newgidmap does) for a process of the caller, allowing only the caller's
 * subordinate ids (libsubid, then /etc/subuid and /etc/subgid) and the
 * caller's own id. Installed with `setcap cap_setuid,cap_setgid+ep` or
 * setuid root; see README.md for the threat model.
 *
 * Order matters and is the point of this file: clear the environment, keep
 * one capability (permitted, not effective) and nothing else, then parse
 * and validate, and raise that capability only around the two writes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subid.h"

#define PROG "newuidmap-shim"
#define MAX_LINES SUBID_MAX_RANGES /* the kernel's limit on map lines */

struct map_line {
	uint32_t id, lower, count;
};

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *out)
{
	fputs("Usage: " PROG " [--gid] PID ID LOWERID COUNT [ID LOWERID COUNT]...\n"
	      "Write the uid map (gid map with --gid) of PID, a process of yours in a new user\n"
	      "namespace: ID..ID+COUNT-1 in it become LOWERID..LOWERID+COUNT-1 outside. Every\n"
	      "LOWERID range must be your own id (COUNT 1) or inside your subordinate ids\n"
	      "(libsubid, /etc/subuid, /etc/subgid).\n",
	      out);
}

/* fds 0-2 open, so nothing we open later becomes stderr. */
static void sane_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			exit(1);
}

/* Leave a setuid-root uid (and a setgid gid) behind and keep only KEEP, in
 * the permitted set; effective stays empty until write_map raises it. */
static void drop_privileges(cap_value_t keep)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	cap_flag_value_t have = CAP_CLEAR;
	cap_t caps;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		die("getresuid: %s", strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		die("keep capabilities: %s", strerror(errno));
	if ((egid != rgid || sgid != rgid) && setresgid(rgid, rgid, rgid) < 0)
		die("drop group: %s", strerror(errno));
	if ((euid != ruid || suid != ruid) && setresuid(ruid, ruid, ruid) < 0)
		die("drop user: %s", strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0 || prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) < 0)
		die("prctl: %s", strerror(errno));
	caps = cap_get_proc();
	if (caps == NULL || cap_get_flag(caps, keep, CAP_PERMITTED, &have) < 0)
		die("read capabilities: %s", strerror(errno));
	cap_free(caps);
	if (have != CAP_SET)
		die("this program has no %s capability: as root, run `setcap cap_setuid,cap_setgid+ep` on it "
		    "(or make it setuid root)",
		    keep == CAP_SETUID ? "cap_setuid" : "cap_setgid");
	caps = cap_init();
	if (caps == NULL || cap_set_flag(caps, CAP_PERMITTED, 1, &keep, CAP_SET) < 0 || cap_set_proc(caps) < 0)
		die("drop capabilities: %s", strerror(errno));
	cap_free(caps);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		die("no_new_privs: %s", strerror(errno));
}

static void set_effective(cap_value_t cap, bool on)
{
	cap_t caps = cap_get_proc();

	if (caps == NULL || cap_set_flag(caps, CAP_EFFECTIVE, 1, &cap, on ? CAP_SET : CAP_CLEAR) < 0 ||
	    cap_set_proc(caps) < 0)
		die("%s capability: %s", on ? "raise" : "lower", strerror(errno));
	cap_free(caps);
}

/* Decimal digits only, at most 4294967295. */
static uint32_t parse_u32(const char *s, const char *what)
{
	uint64_t v = 0;
	size_t len = strlen(s);

	if (len == 0 || len > 10 || strspn(s, "0123456789") != len)
		die("%s `%s` is not a decimal number", what, s);
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (v > UINT32_MAX)
		die("%s `%s` is too large", what, s);
	return (uint32_t)v;
}

static size_t parse_lines(int argc, char **argv, struct map_line *m)
{
	size_t n = (size_t)argc / 3;

	if (argc == 0 || argc % 3 != 0)
		die("expected ID LOWERID COUNT triples after PID (see --help)");
	if (n > MAX_LINES)
		die("%zu map lines: the kernel takes at most %d", n, MAX_LINES);
	for (size_t i = 0; i < n; i++) {
		m[i].id = parse_u32(argv[3 * i], "ID");
		m[i].lower = parse_u32(argv[3 * i + 1], "LOWERID");
		m[i].count = parse_u32(argv[3 * i + 2], "COUNT");
		if (m[i].count == 0)
			die("line %zu: COUNT is 0", i + 1);
		/* (uid_t)-1 is never a valid id, on either side. */
		if ((uint64_t)m[i].id + m[i].count > UINT32_MAX || (uint64_t)m[i].lower + m[i].count > UINT32_MAX)
			die("line %zu: %u %u %u reaches past id 4294967294", i + 1, m[i].id, m[i].lower, m[i].count);
	}
	return n;
}

/* No id twice, in the namespace or outside; every outside range ours.
 * Returns whether a subordinate range was used (newgidmap then leaves
 * setgroups allowed; the own gid alone gets "deny"). */
static bool validate(const struct map_line *m, size_t n, enum subid_kind kind, uint32_t own, const char *user,
		     uid_t ruid)
{
	static struct subid_ranges r;
	struct ocr_error err = {0};
	const char *k = subid_kind_name(kind);
	bool used_subids = false;
	char have[256];

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			if (subid_overlap(m[i].id, m[i].count, m[j].id, m[j].count))
				die("refused: lines %zu and %zu overlap inside the namespace (ID %u and %u)", j + 1,
				    i + 1, m[j].id, m[i].id);
			if (subid_overlap(m[i].lower, m[i].count, m[j].lower, m[j].count))
				die("refused: lines %zu and %zu overlap outside the namespace (LOWERID %u and %u)",
				    j + 1, i + 1, m[j].lower, m[i].lower);
		}
	if (subid_lookup(kind, user, ruid, &r, &err) < 0)
		die("subordinate %ss: %s%s%s", k, err.msg, err.show_errno ? ": " : "",
		    err.show_errno ? strerror(err.err) : "");
	subid_format(r.r, r.n, have, sizeof(have));
	for (size_t i = 0; i < n; i++) {
		if (subid_covers(r.r, r.n, m[i].lower, m[i].count)) {
			used_subids = true;
			continue;
		}
		if (m[i].lower == own && m[i].count == 1)
			continue;
		die("refused: line %zu maps %ss %u-%u, which are neither your %s %u nor among your subordinate "
		    "%ss (%s%s%s)",
		    i + 1, k, m[i].lower, (unsigned)((uint64_t)m[i].lower + m[i].count - 1), k, (unsigned)own, k,
		    r.n ? have : "none", r.n ? ", from " : "", r.n ? r.where : "");
	}
	return used_subids;
}

/* /proc/PID as a directory fd: everything below goes through it, so the
 * process cannot be swapped for another one with the same pid. */
static int open_target(const char *arg, uid_t ruid, gid_t rgid)
{
	uint32_t pid = parse_u32(arg, "PID");
	char path[32];
	struct stat st;
	uid_t owner = (uid_t)-1;
	int dfd, nsfd;

	if (pid == 0 || pid > 4194304)
		die("PID `%s` is not a process id", arg);
	snprintf(path, sizeof(path), "/proc/%u", pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		die("process %u: %s", pid, errno == ENOENT ? "no such process" : strerror(errno));
	if (fstat(dfd, &st) < 0)
		die("process %u: %s", pid, strerror(errno));
	if (st.st_uid != ruid || st.st_gid != rgid)
		die("refused: process %u belongs to uid %u gid %u, not to you (uid %u gid %u)", pid,
		    (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)ruid, (unsigned)rgid);
	nsfd = openat(dfd, "ns/user", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || ioctl(nsfd, NS_GET_OWNER_UID, &owner) < 0)
		die("process %u: user namespace: %s", pid, strerror(errno));
	close(nsfd);
	if (owner != ruid)
		die("refused: the user namespace of process %u is owned by uid %u, not by you (uid %u)", pid,
		    (unsigned)owner, (unsigned)ruid);
	return dfd;
}

/* What newgidmap does: "deny" unless a subordinate range is mapped, and
 * only write when it changes (the kernel refuses a write after gid_map). */
static void write_setgroups(int dfd, bool allow)
{
	const char *want = allow ? "allow\n" : "deny\n";
	char cur[16] = {0};
	int fd = openat(dfd, "setgroups", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		die("open setgroups: %s", strerror(errno));
	n = read(fd, cur, sizeof(cur) - 1);
	if (n < 0)
		die("read setgroups: %s", strerror(errno));
	if (strcmp(cur, want) != 0) {
		if (lseek(fd, 0, SEEK_SET) < 0 || write(fd, want, strlen(want)) != (ssize_t)strlen(want))
			die("write setgroups: %s", strerror(errno));
	}
	if (close(fd) < 0)
		die("close setgroups: %s", strerror(errno));
}

static void write_map(int dfd, const char *file, const struct map_line *m, size_t n)
{
	static char buf[MAX_LINES * 33 + 1];
	size_t len = 0;
	int fd;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].id, m[i].lower, m[i].count);
	fd = openat(dfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		die("open %s: %s", file, strerror(errno));
	/* The kernel takes a map in one write only. */
	if (write(fd, buf, len) != (ssize_t)len)
		die("write %s: %s", file, strerror(errno));
	if (close(fd) < 0)
		die("close %s: %s", file, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct map_line m[MAX_LINES];
	enum subid_kind kind = SUBID_UID;
	cap_value_t cap;
	struct passwd *pw;
	uid_t ruid = getuid();
	gid_t rgid = getgid();
	char *user;
	bool used_subids;
	size_t n;
	int dfd, first = 1;

	sane_stdio();
	if (clearenv() != 0)
		die("clear environment");
	if (argc > 1 && strcmp(argv[1], "--gid") == 0) {
		kind = SUBID_GID;
		first = 2;
	}
	cap = kind == SUBID_UID ? CAP_SETUID : CAP_SETGID;
	drop_privileges(cap);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < first + 4) {
		usage(stderr);
		return 1;
	}
	if (argv[first][0] == '-')
		die("unknown option `%s` (only --gid, first)", argv[first]);
	pw = getpwuid(ruid);
	user = pw ? strdup(pw->pw_name) : NULL;
	n = parse_lines(argc - first - 1, argv + first + 1, m);
	dfd = open_target(argv[first], ruid, rgid);
	used_subids = validate(m, n, kind, kind == SUBID_UID ? (uint32_t)ruid : (uint32_t)rgid, user, ruid);
	set_effective(cap, true);
	if (kind == SUBID_GID)
		write_setgroups(dfd, used_subids);
	write_map(dfd, kind == SUBID_UID ? "uid_map" : "gid_map", m, n);
	set_effective(cap, false);
	free(user);
	close(dfd);
	return 0;
}
