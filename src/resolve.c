#include "resolve.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "utils.h"

/* Old distributions (the hosts the fallback is for) may build with kernel
 * headers older than openat2. */
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
struct open_how {
	uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

#define RESOLVE_MAX_SYMLINKS 40 /* the kernel's MAXSYMLINKS: same ELOOP point */
/* openat2 answers EAGAIN while a rename or mount races with the lookup; a
 * container that keeps renaming must not keep us here forever. */
#define RESOLVE_MAX_RETRIES 32
#define RESOLVE_MAX_DEPTH 4096 /* directories walked up to find the root */
#define PROC_ROOT_INO 1

/* The mount a file is on, as far as we can tell (RESOLVE_OPT_NO_XDEV). */
struct mount_key {
	dev_t dev;
	uint64_t id;
	bool has_id;
};

/* One user-space lookup. CUR is the directory reached so far (O_PATH,
 * owned); REST the part of the path still to walk, with the targets of the
 * symlinks met so far spliced in (bounded: at most RESOLVE_MAX_SYMLINKS
 * targets of < PATH_MAX each after a path of < PATH_MAX). */
struct walk {
	int rootfd;
	struct stat root_st;
	struct mount_key root_mount;
	unsigned int opts;
	int cur;
	char *rest;
	int links;
};

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int open_dir_path(int dirfd, const char *name)
{
	return (int)TEMP_FAILURE_RETRY(openat(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC));
}

/* The mount id of FD from /proc/self/fdinfo (Linux 3.15), for kernels
 * without statx's STATX_MNT_ID. Only a file of procfs is believed: a file
 * mounted over it could claim any id. */
static int fdinfo_mount_id(int fd, uint64_t *ret)
{
	char path[64], buf[512];
	cleanup_close int info = -1;
	struct statfs sf;
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = (int)TEMP_FAILURE_RETRY(open(path, O_RDONLY | O_CLOEXEC));
	if (info < 0 || fstatfs(info, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return -1;
	n = read_all(info, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nmnt_id:");
	if (p == NULL)
		return -1;
	*ret = strtoull(p + 8, NULL, 10);
	return 0;
}

/* st_dev alone misses a bind mount of the same file system: the mount id
 * where the kernel gives it. */
static void mount_key_of(int fd, const struct stat *st, struct mount_key *ret)
{
	ret->dev = st->st_dev;
	ret->has_id = false;
#ifdef STATX_MNT_ID
	{
		struct statx stx;
		if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) == 0 &&
		    (stx.stx_mask & STATX_MNT_ID)) {
			ret->id = stx.stx_mnt_id;
			ret->has_id = true;
			return;
		}
	}
#endif
	ret->has_id = fdinfo_mount_id(fd, &ret->id) == 0;
}

/* RESOLVE_OPT_NO_XDEV: FD (with stat ST) must be on the root's mount. */
static int check_same_mount(const struct walk *w, int fd, const struct stat *st)
{
	struct mount_key k;

	if (!(w->opts & RESOLVE_OPT_NO_XDEV))
		return 0;
	mount_key_of(fd, st, &k);
	if (k.dev != w->root_mount.dev || (k.has_id && w->root_mount.has_id && k.id != w->root_mount.id)) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

/* 1 when DIRFD is the root of W or below it, 0 when walking `..` ends
 * elsewhere (the directory was renamed out of the root while we looked),
 * -1 with errno on a failed call. st_dev/st_ino rather than
 * /proc/self/fd/N: after pivot_root the container may have no /proc. */
static int is_under_root(const struct walk *w, int dirfd)
{
	cleanup_close int cur = open_dir_path(dirfd, ".");

	if (cur < 0)
		return -1;
	for (int depth = 0; depth < RESOLVE_MAX_DEPTH; depth++) {
		struct stat st, pst;
		int parent;

		if (fstat(cur, &st) < 0)
			return -1;
		if (same_inode(&st, &w->root_st))
			return 1;
		parent = open_dir_path(cur, "..");
		if (parent < 0)
			return -1;
		if (fstat(parent, &pst) < 0) {
			close(parent);
			return -1;
		}
		close(cur);
		cur = parent;
		if (same_inode(&st, &pst))
			return 0; /* the top of our own root, not below W's */
	}
	return 0;
}

/* EAGAIN (as openat2 says for a detected race) unless DIRFD is still
 * below the root. */
static int check_under_root(const struct walk *w, int dirfd)
{
	int r = is_under_root(w, dirfd);

	if (r == 0)
		errno = EAGAIN;
	return r > 0 ? 0 : -1;
}

static void set_cur(struct walk *w, int fd)
{
	if (w->cur >= 0)
		close(w->cur);
	w->cur = fd;
}

/* `..`: stays at the root, as RESOLVE_IN_ROOT does; anywhere else the
 * parent must still be below the root, or a rename moved us out. */
static int step_dotdot(struct walk *w)
{
	struct stat st;
	int parent;

	if (fstat(w->cur, &st) < 0)
		return -1;
	if (same_inode(&st, &w->root_st))
		return 0;
	parent = open_dir_path(w->cur, "..");
	if (parent < 0)
		return -1;
	set_cur(w, parent);
	if ((w->opts & RESOLVE_OPT_NO_XDEV) && (fstat(w->cur, &st) < 0 || check_same_mount(w, w->cur, &st) < 0))
		return -1;
	return check_under_root(w, w->cur);
}

/* RESOLVE_NO_MAGICLINKS. Magic links (/proc/PID/fd/N, exe, cwd, root,
 * ns/NAME, map_files/RANGE) exist only on procfs and only below /proc/PID; the
 * plain symlinks of procfs (self, thread-self, mounts, net) are all in its
 * root directory. So a symlink on procfs is followed only there: stricter
 * than the kernel for the rare driver symlinks deeper in /proc, never
 * looser. */
static bool is_magic_link(int linkfd, int dirfd)
{
	struct statfs sf;
	struct stat st;

	if (fstatfs(linkfd, &sf) < 0)
		return true;
	if (sf.f_type != PROC_SUPER_MAGIC)
		return false;
	if (fstatfs(dirfd, &sf) < 0 || fstat(dirfd, &st) < 0)
		return true;
	return !(sf.f_type == PROC_SUPER_MAGIC && st.st_ino == PROC_ROOT_INO);
}

/* Splice the target of the symlink LINKFD (found in the current
 * directory) in front of TAIL, the rest of the path after it; an absolute
 * target starts again at the root. */
static int follow_link(struct walk *w, int linkfd, const char *tail)
{
	cleanup_free char *target = xmalloc(PATH_MAX);
	char *rest;
	ssize_t n;

	if ((w->opts & RESOLVE_OPT_NO_SYMLINKS) || ++w->links > RESOLVE_MAX_SYMLINKS || is_magic_link(linkfd, w->cur)) {
		errno = ELOOP;
		return -1;
	}
	n = readlinkat(linkfd, "", target, PATH_MAX);
	if (n < 0)
		return -1;
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (n == 0) {
		errno = ENOENT; /* what the kernel says for an empty symlink */
		return -1;
	}
	rest = xasprintf("%.*s%s", (int)n, target, tail);
	free(w->rest);
	w->rest = rest;
	if (target[0] == '/') {
		int root = open_dir_path(w->rootfd, ".");
		if (root < 0)
			return -1;
		set_cur(w, root);
	}
	return 0;
}

/* The last component NAME in the current directory, opened with FLAGS.
 * Returns the fd, 0 when NAME was a symlink that was followed (the walk
 * goes on), -1 with errno. */
static int open_last(struct walk *w, const char *name, int flags, int *ret_fd)
{
	cleanup_close int probe = -1;
	cleanup_close int fd = -1;
	struct stat pst, st;

	probe = (int)TEMP_FAILURE_RETRY(openat(w->cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
	/* A mount on NAME is entered even with O_NOFOLLOW, as by openat2. */
	if (probe < 0 || fstat(probe, &pst) < 0 || check_same_mount(w, probe, &pst) < 0)
		return -1;
	if (S_ISLNK(pst.st_mode) && !(flags & O_NOFOLLOW))
		return follow_link(w, probe, "");
	if (check_under_root(w, w->cur) < 0)
		return -1;
	/* O_NOFOLLOW: if NAME became a symlink since the probe, this open
	 * fails or gets the link, and the inode check below catches it. */
	fd = (int)TEMP_FAILURE_RETRY(openat(w->cur, name, flags | O_NOFOLLOW | O_CLOEXEC));
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (!same_inode(&st, &pst)) {
		errno = EAGAIN;
		return -1;
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* A component that is not the last one: it must be a directory, or a
 * symlink that is followed. */
static int step_into(struct walk *w, const char *name, const char *tail)
{
	cleanup_close int next = (int)TEMP_FAILURE_RETRY(openat(w->cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
	struct stat st;

	if (next < 0 || fstat(next, &st) < 0 || check_same_mount(w, next, &st) < 0)
		return -1;
	if (S_ISLNK(st.st_mode))
		return follow_link(w, next, tail);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	set_cur(w, steal_fd(&next));
	return 0;
}

/* The walk proper; the caller owns W's resources. */
static int walk_path(struct walk *w, int flags)
{
	char name[NAME_MAX + 1];

	for (;;) {
		const char *p = w->rest, *end;
		size_t len;
		int fd = -1;

		while (*p == '/')
			p++;
		if (*p == '\0') {
			/* Ran out of components on a directory ("/", "a/.", "a/"). */
			if (check_under_root(w, w->cur) < 0)
				return -1;
			return (int)TEMP_FAILURE_RETRY(openat(w->cur, ".", flags | O_CLOEXEC));
		}
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		/* follow_link replaces w->rest; END must survive it. */
		memmove(w->rest, end, strlen(end) + 1);
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (step_dotdot(w) < 0)
				return -1;
			continue;
		}
		/* A trailing slash makes the name a directory to enter, as in
		 * the kernel; the empty rest then opens it with FLAGS. */
		if (w->rest[0] != '\0') {
			cleanup_free char *tail = xstrdup(w->rest);
			if (step_into(w, name, tail) < 0)
				return -1;
			continue;
		}
		if (open_last(w, name, flags, &fd) < 0)
			return -1;
		if (fd >= 0)
			return fd;
	}
}

static int walk_once(int rootfd, const char *path, int flags, unsigned int opts)
{
	struct walk w = {.rootfd = rootfd, .opts = opts, .cur = -1, .links = 0};
	int fd, saved;

	if (fstat(rootfd, &w.root_st) < 0)
		return -1;
	if (opts & RESOLVE_OPT_NO_XDEV)
		mount_key_of(rootfd, &w.root_st, &w.root_mount);
	w.cur = open_dir_path(rootfd, ".");
	if (w.cur < 0)
		return -1;
	w.rest = xstrdup(path);
	fd = walk_path(&w, flags);
	saved = errno;
	free(w.rest);
	close(w.cur);
	errno = saved;
	return fd;
}

int resolve_in_root_fallback_opts(int rootfd, const char *path, int flags, unsigned int opts)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EINVAL; /* nothing here creates; callers mkdirat themselves */
		return -1;
	}
	if (path[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if (strnlen(path, PATH_MAX) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (int i = 0; i < RESOLVE_MAX_RETRIES; i++) {
		int fd = walk_once(rootfd, path, flags, opts);
		if (fd >= 0 || errno != EAGAIN)
			return fd;
	}
	errno = EAGAIN;
	return -1;
}

int resolve_in_root_fallback(int rootfd, const char *path, int flags)
{
	return resolve_in_root_fallback_opts(rootfd, path, flags, 0);
}

int resolve_in_root_opts(int rootfd, const char *path, int flags, unsigned int opts)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
			   ((opts & RESOLVE_OPT_NO_XDEV) ? RESOLVE_NO_XDEV : 0) |
			   ((opts & RESOLVE_OPT_NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0),
	};

	/* No "openat2 is absent" flag is kept: that would be process-wide
	 * mutable state, and asking again costs one failing syscall. */
	for (int i = 0; i < RESOLVE_MAX_RETRIES; i++) {
		int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno == EAGAIN || errno == EINTR)
			continue;
		/* ENOSYS: kernel < 5.6, or valgrind. EPERM: seccomp profiles
		 * written before openat2 existed deny what they do not know
		 * with EPERM (Docker's did); the walk gives the same answer
		 * when the EPERM was a real one. */
		if (errno == ENOSYS || errno == EPERM)
			return resolve_in_root_fallback_opts(rootfd, path, flags, opts);
		return -1;
	}
	errno = EAGAIN;
	return -1;
}

int resolve_in_root(int rootfd, const char *path, int flags)
{
	return resolve_in_root_opts(rootfd, path, flags, 0);
}
