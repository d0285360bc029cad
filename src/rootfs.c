#include "rootfs.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "mount.h"
#include "utils.h"

/* A config value (a path, a type, a sysctl key) as it may appear in an
 * error message: escaped, so that it cannot split the message or reach
 * the terminal as control sequences. Valid to the end of the full
 * expression: SHOWN(m->destination) as a printf argument. */
struct shown {
	char text[256];
};

static struct shown shown_of(const char *s)
{
	struct shown r;

	str_escape(r.text, sizeof(r.text), s != NULL ? s : "");
	return r;
}

#define SHOWN(value) (shown_of(value).text)

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Flags a remount may change; the rest of MS_* must not reach it. */
#define REMOUNT_FLAGS                                                                                               \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | \
	 MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME | MS_MANDLOCK | 256 /* MS_NOSYMFOLLOW */)

/* Run one mount(2) on DEST inside the root, re-resolving DEST each time so
 * a previous mount on it is seen (magic links do not cross mounts). */
static int mount_at(int rootfd, const char *dest, const char *src, const char *type, unsigned long flags,
		    const char *data, struct ocr_error *err)
{
	cleanup_close int fd = mount_open_in_root(rootfd, dest, false, false, err);
	char target[64];

	if (fd < 0)
		return -1;
	mount_fd_path(fd, target, sizeof(target));
	if (mount(src, target, type, flags, data) < 0)
		return ocr_fail_errno(err, "mount `%s`", SHOWN(dest));
	return 0;
}

static int setattr_at(int rootfd, const char *dest, const struct mount_opts *mo, struct ocr_error *err)
{
	cleanup_close int fd = mount_open_in_root(rootfd, dest, false, false, err);
	struct mount_attr attr = {.attr_set = mo->attr_set, .attr_clr = mo->attr_clr};

	if (fd < 0)
		return -1;
	/* atime modes are one field: clearing it is how a new one is set */
	if (mo->attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_RELATIME))
		attr.attr_clr |= MOUNT_ATTR__ATIME;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return ocr_fail_errno(err, "set recursive attributes on `%s`", SHOWN(dest));
	return 0;
}

static bool is_dir_source(const struct spec_mount *m)
{
	struct stat st;

	if (m->source == NULL)
		return true;
	if (stat(m->source, &st) < 0)
		return true;
	return S_ISDIR(st.st_mode);
}

static int do_bind(struct rootfs_ctx *rc, const struct spec_mount *m, const struct mount_opts *mo,
		   struct ocr_error *err)
{
	unsigned long remount;

	if (m->source == NULL)
		return ocr_fail(err, EINVAL, "bind mount needs a source");
	if (access(m->source, F_OK) < 0)
		return ocr_fail_errno(err, "bind source `%s`", SHOWN(m->source));
	if (mount_at(rc->rootfd, m->destination, m->source, MOUNT_TYPE_NONE, MS_BIND | (mo->recursive ? MS_REC : 0),
		     NULL, err) < 0)
		return -1;
	/* A bind ignores other flags; a remount applies them, and in a user
	 * namespace it must keep the source's locked flags or get EPERM. */
	remount = mo->flags & REMOUNT_FLAGS;
	if (remount != 0 || (mo->clear & REMOUNT_FLAGS) != 0) {
		unsigned long locked = mount_locked_flags(m->source);
		if ((remount & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) != 0)
			locked &= ~(MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME);
		if (mount_at(rc->rootfd, m->destination, NULL, MOUNT_TYPE_NONE, MS_REMOUNT | MS_BIND | remount | locked,
			     NULL, err) < 0)
			return ocr_wrap(err, "remount with options");
	}
	return 0;
}

static int do_fs_mount(struct rootfs_ctx *rc, const struct spec_mount *m, const struct mount_opts *mo,
		       struct ocr_error *err)
{
	unsigned long flags = mo->flags & ~MS_REMOUNT;
	const char *src = m->source ? m->source : m->type;

	if (mount_at(rc->rootfd, m->destination, src, m->type, flags, mo->data, err) == 0)
		return 0;
	if (strcmp(m->type, "devpts") == 0 && err->err == EINVAL && mo->data && strstr(mo->data, "gid=")) {
		/* gid=5 only works when gid 5 is mapped: retry without it. */
		cleanup_free char *data = xstrdup(mo->data);
		char *out = data, *save = NULL;
		cleanup_free char *copy = xstrdup(mo->data);
		data[0] = '\0';
		for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			if (str_has_prefix(o, "gid="))
				continue;
			out += sprintf(out, "%s%s", out == data ? "" : ",", o);
		}
		ocr_debug(rc->log, "devpts on `%s`: retrying without gid=", m->destination);
		return mount_at(rc->rootfd, m->destination, src, m->type, flags, data, err);
	}
	return -1;
}

/* A mount the kernel refuses in a user namespace, replaced by a bind of the
 * host's instance, as runc and crun do for rootless containers. */
static int bind_fallback(struct rootfs_ctx *rc, const struct spec_mount *m, const char *host,
			 const struct mount_opts *mo, struct ocr_error *err)
{
	struct spec_mount bind = *m;
	struct mount_opts bo = *mo;

	bind.source = (char *)host;
	bo.bind = true;
	bo.recursive = true;
	ocr_debug(rc->log, "mount `%s` (%s): falling back to a bind of `%s`", m->destination, m->type, host);
	ocr_error_clear(err);
	return do_bind(rc, &bind, &bo, err);
}

static bool host_is_cgroup2(void)
{
	struct statfs sf;
	return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* Files in /proc that a bind mount may cover, lxcfs-style (as runc). */
static const char *const proc_covers_allowed[] = {
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",  "/proc/stat",    "/proc/swaps",
	"/proc/uptime",	 "/proc/loadavg",   "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
};

/* CVE-2019-16884: a mount on /proc or inside a proc file system hides
 * what /proc must show (attr/current for the LSM, masked paths, sysctls).
 * Only proc goes on /proc, and inside it only the files above may be
 * covered. Judged on where FD (the resolved destination) really is, so a
 * symlink in the rootfs cannot disguise /proc. */
static int check_proc_destination(const struct rootfs_ctx *rc, int fd, const struct spec_mount *m,
				  struct ocr_error *err)
{
	bool is_proc = m->type != NULL && strcmp(m->type, "proc") == 0;
	size_t root_len = strlen(rc->rootfs);
	char link[64], real[PATH_MAX];
	const char *rel = NULL;
	struct statfs sf;
	ssize_t n;

	mount_fd_path(fd, link, sizeof(link));
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0 || fstatfs(fd, &sf) < 0)
		return ocr_fail_errno(err, "resolve `%s` in the rootfs", SHOWN(m->destination));
	real[n] = '\0';
	if (strncmp(real, rc->rootfs, root_len) == 0 && real[root_len] == '/')
		rel = real + root_len;
	if (rel != NULL && strcmp(rel, "/proc") == 0) {
		struct statfs src;
		/* As runc: a bind of a proc file system (the host's /proc for a
		 * container sharing the host's pid namespace) is proc too. */
		if (is_proc || (m->source != NULL && statfs(m->source, &src) == 0 && src.f_type == PROC_SUPER_MAGIC))
			return 0;
		return ocr_fail(err, EPERM, "only a proc file system may go on /proc (type proc, or a bind of one)");
	}
	if ((rel != NULL && str_has_prefix(rel, "/proc/")) || sf.f_type == PROC_SUPER_MAGIC) {
		for (size_t i = 0; rel != NULL && i < ARRAY_SIZE(proc_covers_allowed); i++)
			if (strcmp(rel, proc_covers_allowed[i]) == 0)
				return 0;
		return ocr_fail(err, EPERM, "`%s` is inside /proc: mounting over it is not allowed",
				SHOWN(rel != NULL ? rel : m->destination));
	}
	return 0;
}

static int mount_one(struct rootfs_ctx *rc, const struct spec_mount *m, struct ocr_error *err)
{
	struct mount_opts mo;
	const char *type = m->type ? m->type : "";
	bool bind;
	int fd, rc_;

	if (mount_parse_options(m->options, m->n_options, &mo, err) < 0)
		return -1;
	bind = mo.bind || strcmp(type, "bind") == 0;
	if (bind && strcmp(type, "bind") == 0 && !mo.bind)
		mo.bind = true;
	fd = mount_open_in_root(rc->rootfd, m->destination, true, bind ? is_dir_source(m) : true, err);
	if (fd < 0 || check_proc_destination(rc, fd, m, err) < 0) {
		if (fd >= 0)
			close(fd);
		mount_opts_clear(&mo);
		return ocr_wrap(err, "mounts: `%s` (type %s)", SHOWN(m->destination),
				SHOWN(m->type ? m->type : "bind"));
	}
	close(fd);
	if (bind) {
		rc_ = do_bind(rc, m, &mo, err);
	} else if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		struct spec_mount cg = *m;
		if (host_is_cgroup2() && rc->own_cgroupns) {
			cg.type = (char *)"cgroup2";
			cg.source = (char *)"cgroup2";
			rc_ = do_fs_mount(rc, &cg, &mo, err);
			if (rc_ < 0 && (err->err == EPERM || err->err == EBUSY))
				rc_ = bind_fallback(rc, m, "/sys/fs/cgroup", &mo, err);
		} else {
			rc_ = bind_fallback(rc, m, "/sys/fs/cgroup", &mo, err);
		}
	} else {
		rc_ = do_fs_mount(rc, m, &mo, err);
		if (rc_ < 0 && err->err == EPERM && strcmp(type, "sysfs") == 0)
			rc_ = bind_fallback(rc, m, "/sys", &mo, err);
		else if (rc_ < 0 && err->err == EPERM && strcmp(type, "mqueue") == 0)
			rc_ = bind_fallback(rc, m, "/dev/mqueue", &mo, err);
	}
	if (rc_ == 0 && mo.propagation != 0)
		rc_ = mount_at(rc->rootfd, m->destination, NULL, MOUNT_TYPE_NONE, mo.propagation, NULL, err);
	if (rc_ == 0 && mo.has_rattrs)
		rc_ = setattr_at(rc->rootfd, m->destination, &mo, err);
	mount_opts_clear(&mo);
	if (rc_ < 0)
		return ocr_wrap(err, "mounts: `%s` (type %s)", SHOWN(m->destination),
				SHOWN(m->type ? m->type : "bind"));
	return 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
	{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
	{"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

/* The host's node at PATH, as an O_PATH fd, when it is the very device
 * asked for: the bind below must not hand the container whatever file the
 * config names (linux.devices[].path is also the host path). */
static int open_host_device(const char *path, mode_t kind, char type, unsigned major, unsigned minor,
			    struct ocr_error *err)
{
	cleanup_close int fd = open(path, O_PATH | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return ocr_fail_errno(err,
				      "device `%s`: mknod is not permitted here, and there is no host "
				      "node to bind instead",
				      SHOWN(path));
	if ((st.st_mode & S_IFMT) != kind || st.st_rdev != makedev(major, minor))
		return ocr_fail(err, EPERM,
				"device `%s`: mknod is not permitted here, and the host's node "
				"is not the %c %u:%u device to bind instead",
				SHOWN(path), type, major, minor);
	return steal_fd(&fd);
}

/* mknod is refused in a user namespace: bind the host's node instead. */
static int make_device(struct rootfs_ctx *rc, const char *path, char type, unsigned major, unsigned minor, mode_t mode,
		       struct ocr_error *err)
{
	cleanup_close int fd = -1;
	cleanup_close int host = -1;
	char target[64], source[64];
	mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	cleanup_close int parent = -1;
	const char *base = strrchr(path, '/');
	cleanup_free char *dir = strndup(path, base && base != path ? (size_t)(base - path) : 1);

	if (base == NULL || dir == NULL)
		return ocr_fail(err, EINVAL, "device path `%s` is not absolute", SHOWN(path));
	fd = mount_open_in_root(rc->rootfd, path, false, false, err);
	if (fd < 0) {
		ocr_error_clear(err);
		parent = mount_open_in_root(rc->rootfd, dir, true, true, err);
		if (parent < 0)
			return ocr_wrap(err, "device `%s`", SHOWN(path));
		if (mknodat(parent, base + 1, kind | (mode ? mode : 0666), makedev(major, minor)) == 0)
			return 0;
		if (type == 'p')
			return ocr_fail_errno(err, "device `%s`: mkfifo", SHOWN(path));
		host = open_host_device(path, kind, type, major, minor, err);
		if (host < 0)
			return -1;
		fd = openat(parent, base + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			return ocr_fail_errno(err, "device `%s`: create bind target", SHOWN(path));
		if (fd >= 0)
			close(fd);
		fd = mount_open_in_root(rc->rootfd, path, false, false, err);
		if (fd < 0)
			return ocr_wrap(err, "device `%s`", SHOWN(path));
	} else {
		host = open_host_device(path, kind, type, major, minor, err);
		if (host < 0)
			return -1;
	}
	mount_fd_path(fd, target, sizeof(target));
	mount_fd_path(host, source, sizeof(source));
	if (mount(source, target, MOUNT_TYPE_NONE, MS_BIND, NULL) < 0)
		return ocr_fail_errno(err, "device `%s`: bind from the host", SHOWN(path));
	return 0;
}

static int setup_dev(struct rootfs_ctx *rc, bool dev_is_tmpfs, struct ocr_error *err)
{
	static const struct {
		const char *src, *dst;
	} links[] = {
		{"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},
	};
	const struct spec_linux *lx = rc->spec->linux_;
	cleanup_close int devfd = -1;

	if (dev_is_tmpfs) {
		for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
			if (make_device(rc, default_devices[i].path, 'c', default_devices[i].major,
					default_devices[i].minor, 0666, err) < 0)
				return -1;
	}
	for (size_t i = 0; lx && i < lx->n_devices; i++) {
		const struct spec_device *d = &lx->devices[i];
		if (make_device(rc, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
				d->file_mode.set ? (mode_t)(d->file_mode.v & 07777) : 0, err) < 0)
			return ocr_wrap(err, "linux.devices[%zu]", i);
	}
	if (!dev_is_tmpfs)
		return 0;
	devfd = mount_open_in_root(rc->rootfd, "/dev", false, true, err);
	if (devfd < 0)
		return -1;
	{
		char path[64];
		cleanup_close int dfd = -1;
		mount_fd_path(devfd, path, sizeof(path));
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return ocr_fail_errno(err, "open /dev of the container");
		for (size_t i = 0; i < ARRAY_SIZE(links); i++)
			if (symlinkat(links[i].src, dfd, links[i].dst) < 0 && errno != EEXIST)
				return ocr_fail_errno(err, "symlink /dev/%s", links[i].dst);
	}
	return 0;
}

/* The host's /dev/null, opened before any mount or hook of the container
 * can replace or cover it, and checked to be the null device: masked paths
 * are bound from this fd, never from a path (CVE-2025-31133). */
static int open_devnull(struct ocr_error *err)
{
	cleanup_close int fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "open the host's /dev/null");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return ocr_fail(err, EPERM, "the host's /dev/null is not the character device 1:3");
	return steal_fd(&fd);
}

int rootfs_prepare(struct rootfs_ctx *rc, struct ocr_error *err)
{
	const struct spec_linux *lx = rc->spec->linux_;
	unsigned long prop = MS_SLAVE | MS_REC;
	bool dev_is_tmpfs = false;

	rc->devnull_fd = open_devnull(err);
	if (rc->devnull_fd < 0)
		return -1;
	if (lx && lx->has_rootfs_propagation)
		prop = lx->rootfs_propagation | MS_REC;
	/* Keep our mounts from reaching the host (and the host's from us when
	 * private); shared is applied to / only after pivot. */
	if (mount(NULL, "/", MOUNT_TYPE_NONE, (prop & MS_SHARED) ? (MS_SLAVE | MS_REC) : prop, NULL) < 0)
		return ocr_fail_errno(err, "make / %s", (prop & MS_PRIVATE) ? "private" : "slave");
	if (mount(rc->rootfs, rc->rootfs, MOUNT_TYPE_NONE, MS_BIND | MS_REC, NULL) < 0)
		return ocr_fail_errno(err, "bind mount rootfs `%s`", rc->rootfs);
	rc->rootfd = open(rc->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rc->rootfd < 0)
		return ocr_fail_errno(err, "open rootfs `%s`", rc->rootfs);
	for (size_t i = 0; i < rc->spec->n_mounts; i++) {
		const struct spec_mount *m = &rc->spec->mounts[i];
		if (mount_one(rc, m, err) < 0)
			return -1;
		if (strcmp(m->destination, "/dev") == 0)
			dev_is_tmpfs = m->type && strcmp(m->type, "tmpfs") == 0;
	}
	return setup_dev(rc, dev_is_tmpfs, err);
}

/* What PATH shows now must be the very /dev/null we opened. */
static int check_masked(struct rootfs_ctx *rc, const char *path, struct ocr_error *err)
{
	cleanup_close int fd = mount_open_in_root(rc->rootfd, path, false, false, err);
	struct stat st, null_st;

	if (fd < 0)
		return ocr_wrap(err, "mask `%s`", SHOWN(path));
	if (fstat(fd, &st) < 0 || fstat(rc->devnull_fd, &null_st) < 0)
		return ocr_fail_errno(err, "mask `%s`: stat", SHOWN(path));
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3) || st.st_dev != null_st.st_dev ||
	    st.st_ino != null_st.st_ino)
		return ocr_fail(err, EPERM, "mask `%s`: it does not show /dev/null after the bind", SHOWN(path));
	return 0;
}

static int mask_path(struct rootfs_ctx *rc, const char *path, struct ocr_error *err)
{
	cleanup_close int fd = mount_open_in_root(rc->rootfd, path, false, false, err);
	char target[64], source[64];
	struct stat st;

	if (fd < 0) {
		if (err->err == ENOENT) {
			ocr_error_clear(err);
			return 0;
		}
		return -1;
	}
	if (fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "stat `%s`", SHOWN(path));
	mount_fd_path(fd, target, sizeof(target));
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0000") <
		    0)
			return ocr_fail_errno(err, "mask `%s`", SHOWN(path));
		return 0;
	}
	mount_fd_path(rc->devnull_fd, source, sizeof(source));
	if (mount(source, target, MOUNT_TYPE_NONE, MS_BIND, NULL) < 0)
		return ocr_fail_errno(err, "mask `%s`", SHOWN(path));
	return check_masked(rc, path, err);
}

static int readonly_path(struct rootfs_ctx *rc, const char *path, struct ocr_error *err)
{
	cleanup_close int fd = mount_open_in_root(rc->rootfd, path, false, false, err);
	char target[64];

	if (fd < 0) {
		if (err->err == ENOENT) {
			ocr_error_clear(err);
			return 0;
		}
		return -1;
	}
	mount_fd_path(fd, target, sizeof(target));
	if (mount(target, target, MOUNT_TYPE_NONE, MS_BIND | MS_REC, NULL) < 0)
		return ocr_fail_errno(err, "bind `%s` read-only", SHOWN(path));
	close(fd);
	fd = mount_open_in_root(rc->rootfd, path, false, false, err);
	if (fd < 0)
		return -1;
	mount_fd_path(fd, target, sizeof(target));
	if (mount(NULL, target, MOUNT_TYPE_NONE, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_locked_flags(target), NULL) <
	    0)
		return ocr_fail_errno(err, "remount `%s` read-only", SHOWN(path));
	return 0;
}

int rootfs_protect(struct rootfs_ctx *rc, struct ocr_error *err)
{
	const struct spec_linux *lx = rc->spec->linux_;

	for (size_t i = 0; lx && i < lx->n_masked_paths; i++)
		if (mask_path(rc, lx->masked_paths[i], err) < 0)
			return ocr_wrap(err, "linux.maskedPaths[%zu]", i);
	/* Not needed past here, and no host fd may reach the container. */
	if (rc->devnull_fd >= 0)
		close(steal_fd(&rc->devnull_fd));
	for (size_t i = 0; lx && i < lx->n_readonly_paths; i++)
		if (readonly_path(rc, lx->readonly_paths[i], err) < 0)
			return ocr_wrap(err, "linux.readonlyPaths[%zu]", i);
	if (rc->spec->root_readonly) {
		unsigned long locked = mount_locked_flags(rc->rootfs);
		if (mount(NULL, rc->rootfs, MOUNT_TYPE_NONE, MS_REMOUNT | MS_BIND | MS_RDONLY | locked, NULL) < 0)
			return ocr_fail_errno(err, "root.readonly: remount `%s` read-only", rc->rootfs);
	}
	return 0;
}

int rootfs_pivot(struct rootfs_ctx *rc, struct ocr_error *err)
{
	const struct spec_linux *lx = rc->spec->linux_;

	if (rc->no_pivot) {
		if (chdir(rc->rootfs) < 0)
			return ocr_fail_errno(err, "chdir `%s`", rc->rootfs);
		if (mount(rc->rootfs, "/", MOUNT_TYPE_NONE, MS_MOVE, NULL) < 0)
			return ocr_fail_errno(err, "move rootfs to /");
		if (chroot(".") < 0)
			return ocr_fail_errno(err, "chroot");
	} else {
		cleanup_close int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		cleanup_close int newroot = open(rc->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

		if (oldroot < 0 || newroot < 0)
			return ocr_fail_errno(err, "open roots for pivot_root");
		if (fchdir(newroot) < 0)
			return ocr_fail_errno(err, "chdir to rootfs");
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return ocr_fail_errno(err, "pivot_root (try --no-pivot on a ramfs root)");
		/* The old root now sits under the new one: detach it without
		 * letting the unmount propagate to the host. */
		if (fchdir(oldroot) < 0)
			return ocr_fail_errno(err, "chdir to old root");
		if (mount(NULL, ".", MOUNT_TYPE_NONE, MS_SLAVE | MS_REC, NULL) < 0)
			return ocr_fail_errno(err, "make old root slave");
		if (umount2(".", MNT_DETACH) < 0)
			return ocr_fail_errno(err, "detach old root");
	}
	if (chdir("/") < 0)
		return ocr_fail_errno(err, "chdir /");
	if (lx && lx->has_rootfs_propagation &&
	    mount(NULL, "/", MOUNT_TYPE_NONE, lx->rootfs_propagation | MS_REC, NULL) < 0)
		return ocr_fail_errno(err, "linux.rootfsPropagation");
	return 0;
}

/* The sysctls a container may set are those of its own namespaces. */
static bool sysctl_allowed(const char *key, bool netns, bool ipcns, bool utsns)
{
	static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
					  "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
	if (str_has_prefix(key, "fs.mqueue."))
		return ipcns;
	for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
		if (strcmp(key, ipc[i]) == 0)
			return ipcns;
	if (str_has_prefix(key, "net."))
		return netns;
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
		return utsns;
	return false;
}

/* ping_group_range wider than the gids mapped in our user namespace is
 * EINVAL (podman#28180): clamp it to the mapped range. */
static char *clamp_ping_range(const char *value)
{
	cleanup_free char *map = NULL;
	struct ocr_error ignored;
	unsigned long lo, hi, mlo = ~0UL, mhi = 0;
	char *line, *save = NULL;

	if (sscanf(value, "%lu %lu", &lo, &hi) != 2 ||
	    read_file_at(AT_FDCWD, "/proc/self/gid_map", 65536, &map, NULL, &ignored) < 0)
		return NULL;
	for (line = strtok_r(map, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long inside, outside, count;
		if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) != 3 || count == 0)
			continue;
		if (inside < mlo)
			mlo = inside;
		if (inside + count - 1 > mhi)
			mhi = inside + count - 1;
	}
	if (mlo == ~0UL)
		return NULL;
	lo = lo < mlo ? mlo : lo;
	hi = hi > mhi ? mhi : hi;
	if (lo > hi)
		return NULL;
	return xasprintf("%lu %lu", lo, hi);
}

int rootfs_sysctl(const struct spec *spec, bool own_netns, bool own_ipcns, bool own_utsns, struct ocr_error *err)
{
	const struct spec_linux *lx = spec->linux_;

	for (size_t i = 0; lx && i < lx->n_sysctl; i++) {
		const char *key = lx->sysctl[i].key;
		cleanup_free char *path = NULL;

		if (strstr(key, "..") != NULL || strchr(key, '/') != NULL || key[0] == '.')
			return ocr_fail(err, EINVAL, "linux.sysctl: invalid key `%s`", SHOWN(key));
		if (!sysctl_allowed(key, own_netns, own_ipcns, own_utsns))
			return ocr_fail(err, EPERM,
					"linux.sysctl: `%s` is not namespaced for this container "
					"(needs its own network/ipc/uts namespace or is host-wide)",
					SHOWN(key));
		path = xasprintf("/proc/sys/%s", key);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		/* After the config's mounts and createContainer hooks: the
		 * file must still be the kernel's (CVE-2025-52881). */
		if (write_proc_file(path, lx->sysctl[i].value, strlen(lx->sysctl[i].value), err) < 0) {
			cleanup_free char *clamped = NULL;
			if (err->err == EINVAL && strcmp(key, "net.ipv4.ping_group_range") == 0)
				clamped = clamp_ping_range(lx->sysctl[i].value);
			if (clamped == NULL || write_proc_file(path, clamped, strlen(clamped), err) < 0)
				return ocr_wrap(err, "linux.sysctl `%s`", SHOWN(key));
		}
	}
	return 0;
}
