#include "utils.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

#include "resolve.h"

void cleanup_freep(void *p)
{
	free(*(void **)p);
}

void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

void cleanup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

void cleanup_strvp(char ***v)
{
	strv_free(*v);
}

void cleanup_pidp(pid_t *pid)
{
	if (*pid > 0) {
		int saved = errno;
		kill(*pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(*pid, NULL, 0));
		errno = saved;
	}
}

static void oom(void)
{
	static const char msg[] = "ocirt-rootless: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(EXIT_FAILURE);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *r;
	if (s == NULL)
		return NULL;
	r = strdup(s);
	if (r == NULL)
		oom();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return r;
}

void strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = TEMP_FAILURE_RETRY(write(fd, p, len));
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = TEMP_FAILURE_RETRY(read(fd, p + got, len - got));
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t cap = 4096, len = 0;

	fd = TEMP_FAILURE_RETRY(openat(dirfd, path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return ocr_fail_errno(err, "open `%s`", path);
	buf = xmalloc(cap);
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap) {
			if (cap > max + 1)
				return ocr_fail(err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		r = TEMP_FAILURE_RETRY(read(fd, buf + len, cap - len - 1));
		if (r < 0)
			return ocr_fail_errno(err, "read `%s`", path);
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max)
			return ocr_fail(err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = steal_pointer(&buf);
	return 0;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len, struct ocr_error *err)
{
	cleanup_close int fd = -1;

	fd = TEMP_FAILURE_RETRY(openat(dirfd, path, O_WRONLY | O_CLOEXEC));
	if (fd < 0)
		return ocr_fail_errno(err, "open `%s`", path);
	if (write_all(fd, data, len) < 0)
		return ocr_fail_errno(err, "write `%s`", path);
	if (close(steal_fd(&fd)) < 0)
		return ocr_fail_errno(err, "close `%s`", path);
	return 0;
}

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#define PROC_ROOT_INO 1

/* "/proc" as it is now, when it really is the root of a proc file system:
 * not a symlink, not a tmpfs with look-alike files, not a bind of some
 * directory inside proc. */
static int open_proc_root(struct ocr_error *err)
{
	cleanup_close int fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct statfs sf;
	struct stat st;

	if (fd < 0)
		return ocr_fail_errno(err, "open /proc (it must be a proc file system, not a symlink)");
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "stat /proc");
	if (sf.f_type != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO)
		return ocr_fail(err, EPERM, "/proc is not the root of a proc file system: refusing to write to it");
	return steal_fd(&fd);
}

int write_proc_file(const char *path, const char *data, size_t len, struct ocr_error *err)
{
	cleanup_close int procfd = -1;
	cleanup_close int fd = -1;
	struct statfs sf;

	if (!str_has_prefix(path, "/proc/") || path[6] == '\0')
		return ocr_fail(err, EINVAL, "`%s` is not a file under /proc", path);
	procfd = open_proc_root(err);
	if (procfd < 0)
		return ocr_wrap(err, "write `%s`", path);
	/* No mount may be crossed below /proc: a file another mount put
	 * there is not the kernel's (CVE-2025-52881). /proc/self and
	 * /proc/thread-self are plain symlinks and still work; magic links
	 * are refused, and nothing resolves above /proc. The resolve module
	 * does this without openat2 too (kernels < 5.6, valgrind). */
	fd = resolve_in_root_opts(procfd, path + 6, O_WRONLY | O_NOCTTY, RESOLVE_OPT_NO_XDEV);
	if (fd < 0 && errno == EXDEV)
		return ocr_fail(err, EXDEV,
				"open `%s`: another mount covers it or a directory above it: refusing to write", path);
	if (fd < 0)
		return ocr_fail_errno(err, "open `%s`", path);
	if (fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return ocr_fail(err, EXDEV, "open `%s`: not a file of the proc file system: refusing to write", path);
	if (write_all(fd, data, len) < 0)
		return ocr_fail_errno(err, "write `%s`", path);
	if (close(steal_fd(&fd)) < 0)
		return ocr_fail_errno(err, "close `%s`", path);
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, struct ocr_error *err)
{
	cleanup_free char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	cleanup_close int fd = -1;

	fd = TEMP_FAILURE_RETRY(open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
	if (fd < 0)
		return ocr_fail_errno(err, "create `%s`", tmp);
	if (write_all(fd, data, len) < 0 || close(steal_fd(&fd)) < 0) {
		ocr_fail_errno(err, "write `%s`", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		ocr_fail_errno(err, "rename `%s` to `%s`", tmp, path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode, struct ocr_error *err)
{
	cleanup_free char *copy = xstrdup(path);
	size_t len = strlen(copy);

	for (size_t i = 1; i <= len; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		copy[i] = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return ocr_fail_errno(err, "mkdir `%s`", copy);
		if (i < len)
			copy[i] = '/';
	}
	return 0;
}

static int rm_rf_children(int dfd, dev_t dev, struct ocr_error *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

	if (dup_fd < 0)
		return ocr_fail_errno(err, "dup");
	d = fdopendir(dup_fd);
	if (d == NULL) {
		close(dup_fd);
		return ocr_fail_errno(err, "fdopendir");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return ocr_fail_errno(err, "stat `%s`", de->d_name);
		}
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int cfd = -1;
			if (st.st_dev != dev)
				return ocr_fail(err, EBUSY, "`%s` is a mount point", de->d_name);
			cfd = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0)
				return ocr_fail_errno(err, "open `%s`", de->d_name);
			if (rm_rf_children(cfd, dev, err) < 0)
				return ocr_wrap(err, "%s", de->d_name);
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
				return ocr_fail_errno(err, "rmdir `%s`", de->d_name);
		} else if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT) {
			return ocr_fail_errno(err, "unlink `%s`", de->d_name);
		}
	}
	if (errno != 0)
		return ocr_fail_errno(err, "readdir");
	return 0;
}

int rm_rf_at(int dirfd, const char *name, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP) {
			if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
				return ocr_fail_errno(err, "unlink `%s`", name);
			return 0;
		}
		return ocr_fail_errno(err, "open `%s`", name);
	}
	if (fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "stat `%s`", name);
	if (rm_rf_children(fd, st.st_dev, err) < 0)
		return ocr_wrap(err, "remove `%s`", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return ocr_fail_errno(err, "rmdir `%s`", name);
	return 0;
}

static bool is_ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* strtoull/strtoll skip any leading white space and take a sign, and base 0
 * reads "010" as octal: only digits (after "0x" for hex) are let through. */
int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	int base = 10;

	if (s == NULL)
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return -1;
		base = 16;
	} else if (!is_ascii_digit(s[0])) {
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*ret = v;
	return 0;
}

int parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (s == NULL || !is_ascii_digit((s[0] == '-' || s[0] == '+') ? s[1] : s[0]))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*ret = v;
	return 0;
}

int close_fds_from(int first, bool cloexec_only)
{
	unsigned int flags = cloexec_only ? 4U /* CLOSE_RANGE_CLOEXEC */ : 0U;

	if (syscall(SYS_close_range, (unsigned)first, ~0U, flags) == 0)
		return 0;
	/* Kernels before 5.9/5.11: walk /proc/self/fd. */
	{
		cleanup_dir DIR *d = opendir("/proc/self/fd");
		struct dirent *de;
		if (d == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			int fd = atoi(de->d_name);
			if (de->d_name[0] == '.' || fd < first || fd == dirfd(d))
				continue;
			if (cloexec_only)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
			else
				close(fd);
		}
	}
	return 0;
}

void format_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

int proc_stat(pid_t pid, unsigned long long *ret_starttime, char *ret_state)
{
	char path[64], buf[1024];
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = ESRCH;
		return -1;
	}
	n = read_all(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		errno = ESRCH;
		return -1;
	}
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: parse from the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] == '\0') {
		errno = EINVAL;
		return -1;
	}
	p += 2;
	if (ret_state)
		*ret_state = *p;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ret_starttime)
		*ret_starttime = strtoull(p, NULL, 10);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at S (1..4), 0 if there is
 * none; C1 controls (U+0080..U+009F) count as not well-formed. */
static size_t utf8_char_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	cp = s[0] & (0x7fu >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void str_escape(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s != '\0') {
		char esc[8];
		size_t n = *s < 0x20 || *s == 0x7f ? 0 : utf8_char_len(s);
		const char *out = (const char *)s;
		size_t out_len = n;

		if (n == 0) {
			if (*s == '\n')
				strcpy(esc, "\\n");
			else if (*s == '\t')
				strcpy(esc, "\\t");
			else
				snprintf(esc, sizeof(esc), "\\x%02x", *s);
			out = esc;
			out_len = strlen(esc);
			n = 1;
		}
		if (o + out_len >= len)
			break;
		memcpy(dst + o, out, out_len);
		o += out_len;
		s += n;
	}
	dst[o] = '\0';
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool find_program(const char *name, const char *path_env, char *buf, size_t len)
{
	/* Only without a PATH, as execvp(3) falls back to a default one: a set
	 * PATH is the caller's word on what is installed, so a program left
	 * out of it (or removed) is not used behind its back (and the idmap
	 * code then finds the shim instead of shadow's helpers). */
	static const char default_path[] = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
	const char *p = path_env && path_env[0] ? path_env : default_path;

	while (*p) {
		size_t n = strcspn(p, ":");
		/* Relative PATH entries would make the result depend on the cwd. */
		if (n > 0 && p[0] == '/') {
			int w = snprintf(buf, len, "%.*s/%s", (int)n, p, name);
			if (w > 0 && (size_t)w < len && is_executable_file(buf))
				return true;
		}
		p += n;
		if (*p == ':')
			p++;
	}
	if (len)
		buf[0] = '\0';
	return false;
}

void reset_signals(void)
{
	/* The raw syscall: glibc refuses its internal real-time signals, yet
	 * an ignored one would still be inherited across execve. */
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} ksa = {SIG_DFL, 0, NULL, 0};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

ssize_t send_with_fd(int sock, int fd, const void *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return TEMP_FAILURE_RETRY(sendmsg(sock, &mh, MSG_NOSIGNAL));
}

ssize_t recv_with_fd(int sock, void *data, size_t len, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = data, .iov_len = len};
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf, .msg_controllen = sizeof(ctrl.buf)};
	ssize_t n;

	*ret_fd = -1;
	n = TEMP_FAILURE_RETRY(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC));
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*ret_fd < 0)
				*ret_fd = fd;
			else
				close(fd);
		}
	}
	if ((mh.msg_flags & MSG_CTRUNC) && *ret_fd < 0) {
		errno = EMFILE;
		return -1;
	}
	return n;
}
