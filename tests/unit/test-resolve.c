/* The user-space RESOLVE_IN_ROOT walk (src/resolve.c) on a temporary
 * tree: it must stay in the root whatever the symlinks say, and give what
 * openat2 gives (same errno, same inode) for every case of the table, with
 * RESOLVE_NO_SYMLINKS and, in a mount namespace of its own with mounts in
 * the tree, RESOLVE_NO_XDEV. */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "resolve.h"
#include "tap.h"
#include "utils.h"

struct rcase {
	const char *path;
	int flags;
	int err; /* 0: success */
	const char *expect; /* on success: the path in the root it must be, or NULL */
	unsigned int opts; /* RESOLVE_OPT_* */
};

#define NOSYM RESOLVE_OPT_NO_SYMLINKS
#define NOXDEV RESOLVE_OPT_NO_XDEV

static const struct rcase cases[] = {
	{"/file", O_PATH, 0, "file"},
	{"file", O_RDONLY, 0, "file"},
	{"/dir/file", O_PATH, 0, "dir/file"},
	{"/", O_PATH | O_DIRECTORY, 0, "."},
	{"dir/", O_PATH, 0, "dir"},
	{"file/", O_PATH, ENOTDIR, NULL},
	{"/../../../../file", O_PATH, 0, "file"},
	{"dir/../../../dir/./file", O_PATH, 0, "dir/file"},
	/* absolute symlink out of the root: lands in the root's etc */
	{"abs_out/passwd", O_PATH, ENOENT, NULL},
	{"abs_out", O_PATH, ENOENT, NULL},
	{"abs_dir/file", O_PATH, 0, "dir/file"},
	/* relative symlinks climbing beyond the root */
	{"rel_out", O_PATH, 0, "."},
	{"esc", O_PATH, ENOENT, NULL}, /* ../secret exists outside */
	{"dir/up/file", O_PATH, 0, "file"},
	{"loop1", O_PATH, ELOOP, NULL},
	{"loop1/x", O_PATH, ELOOP, NULL},
	{"dangling", O_PATH, ENOENT, NULL},
	{"dangling", O_PATH | O_NOFOLLOW, 0, "dangling"},
	{"link_file", O_PATH | O_DIRECTORY, ENOTDIR, NULL},
	{"link_file", O_PATH, 0, "file"},
	{"link_file", O_PATH | O_NOFOLLOW, 0, "link_file"},
	{"link_file", O_RDONLY | O_NOFOLLOW, ELOOP, NULL},
	{"link_dir", O_PATH | O_DIRECTORY, 0, "dir"},
	{"link_dir/", O_PATH | O_NOFOLLOW, 0, "dir"},
	{"file/x", O_PATH, ENOTDIR, NULL},
	{"missing/x", O_PATH, ENOENT, NULL},
	{"chain40", O_PATH, 0, "file"},
	{"chain41", O_PATH, ELOOP, NULL},
	{"empty_link", O_PATH, ENOENT, NULL},
	/* RESOLVE_NO_SYMLINKS: no link followed, a last one left alone */
	{"dir/file", O_PATH, 0, "dir/file", NOSYM},
	{"link_file", O_PATH, ELOOP, NULL, NOSYM},
	{"link_file", O_PATH | O_NOFOLLOW, 0, "link_file", NOSYM},
	{"link_file", O_RDONLY | O_NOFOLLOW, ELOOP, NULL, NOSYM},
	{"link_dir/file", O_PATH, ELOOP, NULL, NOSYM},
	{"abs_dir/file", O_PATH, ELOOP, NULL, NOSYM},
	{"dir/../file", O_RDONLY, 0, "file", NOSYM},
	/* RESOLVE_NO_XDEV without a mount on the way */
	{"abs_dir/file", O_PATH, 0, "dir/file", NOXDEV},
	{"dir/../../file", O_RDONLY, 0, "file", NOXDEV},
	{"/", O_PATH | O_DIRECTORY, 0, ".", NOXDEV | NOSYM},
};

/* In a mount namespace of the test's own (make_mounts): a tmpfs on mnt,
 * a bind of dir on bind (the same file system: only the mount id tells),
 * a bind of file on fbind, and symlinks into them. */
static const struct rcase mount_cases[] = {
	{"mnt/x", O_PATH, 0, "mnt/x"},
	{"bind/file", O_RDONLY, 0, "bind/file"},
	{"mnt", O_PATH, EXDEV, NULL, NOXDEV},
	{"mnt/", O_PATH | O_DIRECTORY, EXDEV, NULL, NOXDEV},
	{"mnt/x", O_PATH, EXDEV, NULL, NOXDEV},
	{"bind", O_PATH | O_NOFOLLOW, EXDEV, NULL, NOXDEV},
	{"bind/file", O_RDONLY, EXDEV, NULL, NOXDEV},
	{"fbind", O_RDONLY, EXDEV, NULL, NOXDEV},
	{"fbind", O_PATH | O_NOFOLLOW, EXDEV, NULL, NOXDEV},
	{"to_mnt", O_PATH, EXDEV, NULL, NOXDEV},
	{"to_bind/file", O_PATH, EXDEV, NULL, NOXDEV},
	{"to_mnt", O_PATH | O_NOFOLLOW, 0, "to_mnt", NOXDEV},
	{"dir/file", O_RDONLY, 0, "dir/file", NOXDEV},
	{"dir/../bind/../file", O_PATH, EXDEV, NULL, NOXDEV},
};

static int make_tree(const char *top)
{
	char buf[64];
	int root;

	if (mkdirat(AT_FDCWD, top, 0755) < 0)
		return -1;
	root = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	mkdirat(root, "dir", 0755);
	close(openat(root, "file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(openat(root, "dir/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	close(openat(root, "../secret", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	symlinkat("/etc", root, "abs_out");
	symlinkat("/dir", root, "abs_dir");
	symlinkat("../../../../../../..", root, "rel_out");
	symlinkat("../secret", root, "esc");
	symlinkat("../../..", root, "dir/up");
	symlinkat("loop2", root, "loop1");
	symlinkat("loop1", root, "loop2");
	symlinkat("nowhere", root, "dangling");
	symlinkat("file", root, "link_file");
	symlinkat("dir", root, "link_dir");
	/* chainN: N symlinks end to end, then the file */
	symlinkat("file", root, "c0");
	for (int i = 1; i < 41; i++) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		snprintf(buf, sizeof(buf), "c%d", i - 1);
		symlinkat(buf, root, name);
	}
	symlinkat("c38", root, "chain40"); /* 1 + 39 links */
	symlinkat("c39", root, "chain41");
	return root;
}

static bool same_as(int fd, int root, const char *expect)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || fstatat(root, expect, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int kernel_openat2_opts(int root, const char *path, int flags, unsigned int opts)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};

	if (opts & RESOLVE_OPT_NO_XDEV)
		how.resolve |= RESOLVE_NO_XDEV;
	if (opts & RESOLVE_OPT_NO_SYMLINKS)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

static int kernel_openat2(int root, const char *path, int flags)
{
	return kernel_openat2_opts(root, path, flags, 0);
}

static void check_case(int root, const struct rcase *c, bool have_openat2)
{
	int fd = resolve_in_root_fallback_opts(root, c->path, c->flags, c->opts);
	int e = fd < 0 ? errno : 0;

	if (c->err != 0) {
		is_int(e, c->err, "`%s` (flags %#x, opts %#x) fails with %s", c->path, (unsigned)c->flags, c->opts,
		       strerror(c->err));
	} else {
		ok(fd >= 0 && same_as(fd, root, c->expect), "`%s` (flags %#x, opts %#x) is `%s`", c->path,
		   (unsigned)c->flags, c->opts, c->expect);
		if (fd < 0)
			diag("errno %d (%s)", e, strerror(e));
	}
	if (have_openat2) {
		int kfd = kernel_openat2_opts(root, c->path, c->flags, c->opts);
		int ke = kfd < 0 ? errno : 0;
		struct stat a, b;
		bool same = ke == e;

		if (same && fd >= 0)
			same = fstat(fd, &a) == 0 && fstat(kfd, &b) == 0 && a.st_dev == b.st_dev &&
			       a.st_ino == b.st_ino;
		ok(same, "`%s` (flags %#x, opts %#x): same result as openat2", c->path, (unsigned)c->flags, c->opts);
		if (!same)
			diag("fallback errno %d, openat2 errno %d", e, ke);
		if (kfd >= 0)
			close(kfd);
	}
	if (fd >= 0)
		close(fd);
}

/* Magic links are refused and plain procfs symlinks followed, with the
 * real / as the root (there is a /proc there). */
static void check_proc(bool have_openat2)
{
	cleanup_close int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd;

	fd = resolve_in_root_fallback(slash, "/proc/self/fd/0", O_PATH);
	is_int(fd < 0 ? errno : 0, ELOOP, "a magic link (/proc/self/fd/0) is refused with ELOOP");
	if (fd >= 0)
		close(fd);
	fd = resolve_in_root_fallback(slash, "/proc/self/cwd/", O_PATH);
	is_int(fd < 0 ? errno : 0, ELOOP, "a magic link in the middle (/proc/self/cwd/) is refused");
	if (fd >= 0)
		close(fd);
	fd = resolve_in_root_fallback(slash, "/proc/self/status", O_RDONLY);
	ok(fd >= 0, "/proc/self (a plain procfs symlink) is followed");
	if (fd >= 0)
		close(fd);
	fd = resolve_in_root_fallback(slash, "/proc/self/exe", O_PATH | O_NOFOLLOW);
	ok(fd >= 0, "a magic link itself opens with O_PATH|O_NOFOLLOW, as with openat2");
	if (fd >= 0)
		close(fd);
	if (have_openat2) {
		fd = kernel_openat2(slash, "/proc/self/fd/0", O_PATH);
		is_int(fd < 0 ? errno : 0, ELOOP, "openat2 agrees on /proc/self/fd/0");
		if (fd >= 0)
			close(fd);
	}
}

/* A directory renamed out of the root and back while the walk is inside
 * it: `..` then leads out of the root, where a `secret` waits. The walk
 * must notice (EAGAIN, retried) and never return the outside file. */
static void check_rename_race(const char *top, int root)
{
	cleanup_free char *in = xasprintf("%s/root/a/d", top);
	cleanup_free char *out = xasprintf("%s/d", top);
	cleanup_free char *secret = xasprintf("%s/secret", top);
	int escaped = 0, opened = 0, again = 0;
	struct stat sst;
	pid_t pid;

	mkdirat(root, "a", 0755);
	mkdirat(root, "a/d", 0755);
	if (stat(secret, &sst) < 0) {
		ok(false, "rename race: no %s", secret);
		return;
	}
	pid = fork();
	if (pid == 0) {
		for (;;) {
			rename(in, out);
			rename(out, in);
		}
	}
	for (int i = 0; i < 20000; i++) {
		int fd = resolve_in_root_fallback(root, "a/d/../secret", O_PATH);
		struct stat st;

		if (fd >= 0) {
			opened++;
			if (fstat(fd, &st) == 0 && st.st_dev == sst.st_dev && st.st_ino == sst.st_ino)
				escaped++;
			close(fd);
		} else if (errno == EAGAIN) {
			again++;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	diag("rename race: %d opened, %d EAGAIN after retries, of 20000", opened, again);
	is_int(escaped, 0, "rename race: `..` out of a directory moved out of the root never reaches outside");
}

/* A mount namespace of our own (and a user namespace when not root, so
 * an unprivileged `make check` runs this too). False when the kernel or a
 * sandbox refuses. */
static bool enter_mount_ns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	struct ocr_error err = {0};

	if (uid != 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return false;
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", 4, &err) < 0 ||
		    write_file_at(AT_FDCWD, "/proc/self/uid_map", map, strlen(map), &err) < 0)
			return false;
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (write_file_at(AT_FDCWD, "/proc/self/gid_map", map, strlen(map), &err) < 0)
			return false;
	} else if (unshare(CLONE_NEWNS) < 0) {
		return false;
	}
	return mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0;
}

static bool make_mounts(const char *rootdir, int root)
{
	cleanup_free char *mnt = xasprintf("%s/mnt", rootdir);
	cleanup_free char *bind = xasprintf("%s/bind", rootdir);
	cleanup_free char *dir = xasprintf("%s/dir", rootdir);
	cleanup_free char *file = xasprintf("%s/file", rootdir);
	cleanup_free char *fbind = xasprintf("%s/fbind", rootdir);

	mkdirat(root, "mnt", 0755);
	mkdirat(root, "bind", 0755);
	close(openat(root, "fbind", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	symlinkat("/mnt/x", root, "to_mnt");
	symlinkat("bind", root, "to_bind");
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0 || mount(dir, bind, "none", MS_BIND, NULL) < 0 ||
	    mount(file, fbind, "none", MS_BIND, NULL) < 0)
		return false;
	close(openat(root, "mnt/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	return true;
}

static void unmount_all(const char *rootdir)
{
	static const char *const names[] = {"mnt", "bind", "fbind"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *p = xasprintf("%s/%s", rootdir, names[i]);
		umount2(p, MNT_DETACH);
	}
}

/* RESOLVE_NO_XDEV against real mounts, last: it leaves the process in
 * namespaces of its own. */
static void check_mounts(const char *rootdir, bool have_openat2)
{
	cleanup_free char *mnt = xasprintf("%s/mnt", rootdir);
	cleanup_close int mntfd = -1;
	cleanup_close int root = -1;
	int fd;

	if (!enter_mount_ns()) {
		ok(true, "# SKIP no mount namespace here (%s): RESOLVE_NO_XDEV against mounts not checked",
		   strerror(errno));
		return;
	}
	/* An fd opened before unshare is on the old namespace's mounts and
	 * would never see the new ones. */
	root = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || !make_mounts(rootdir, root)) {
		ok(false, "mounts for the RESOLVE_NO_XDEV cases: %s", strerror(errno));
		unmount_all(rootdir);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(mount_cases); i++)
		check_case(root, &mount_cases[i], have_openat2);
	/* From the root of a mount: its own files are on the same mount. */
	mntfd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = resolve_in_root_fallback_opts(mntfd, "/x", O_RDONLY, RESOLVE_OPT_NO_XDEV);
	ok(fd >= 0, "a root that is a mount root itself: its files are not across a mount");
	if (fd >= 0)
		close(fd);
	fd = resolve_in_root_fallback_opts(mntfd, "..", O_PATH, RESOLVE_OPT_NO_XDEV);
	ok(fd >= 0 && same_as(fd, mntfd, "."), "`..` at a root that is a mount root stays there");
	if (fd >= 0)
		close(fd);
	fd = resolve_in_root_opts(root, "bind/file", O_RDONLY, RESOLVE_OPT_NO_XDEV);
	is_int(fd < 0 ? errno : 0, EXDEV, "resolve_in_root_opts (openat2 or the walk) refuses a bind mount too");
	if (fd >= 0)
		close(fd);
	unmount_all(rootdir);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char top[PATH_MAX];
	cleanup_free char *rootdir = NULL;
	cleanup_close int root = -1;
	bool have_openat2;
	int fd;

	snprintf(top, sizeof(top), "%s/ocirt-resolve.XXXXXX", tmp != NULL && strlen(tmp) < 256 ? tmp : "/tmp");
	if (mkdtemp(top) == NULL) {
		printf("Bail out! mkdtemp %s: %s\n", top, strerror(errno));
		return 1;
	}
	rootdir = xasprintf("%s/root", top);
	root = make_tree(rootdir);
	if (root < 0) {
		printf("Bail out! cannot make the test tree in %s\n", rootdir);
		return 1;
	}
	fd = kernel_openat2(root, "file", O_PATH);
	have_openat2 = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		diag("openat2 not available (%s): no comparison with the kernel", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(root, &cases[i], have_openat2);
	check_proc(have_openat2);

	check_rename_race(top, root);
	check_mounts(rootdir, have_openat2);
	fd = resolve_in_root_fallback(root, "new", O_CREAT | O_WRONLY);
	is_int(fd < 0 ? errno : 0, EINVAL, "O_CREAT is refused (the callers create with mkdirat)");
	fd = resolve_in_root(root, "abs_dir/file", O_PATH);
	ok(fd >= 0 && same_as(fd, root, "dir/file"), "resolve_in_root (openat2 or the walk) resolves too");
	if (fd >= 0)
		close(fd);
	{
		cleanup_free char *rm = xasprintf("rm -rf '%s'", top);
		if (system(rm) != 0)
			diag("could not remove %s", rootdir);
	}
	return done_testing();
}
