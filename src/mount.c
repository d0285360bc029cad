#include "mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "resolve.h"
#include "utils.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

enum opt_kind { OPT_FLAG, OPT_CLEAR, OPT_PROPAGATION, OPT_BIND, OPT_RATTR_SET, OPT_RATTR_CLR, OPT_IGNORE };

static const struct {
	const char *name;
	enum opt_kind kind;
	unsigned long value;
} mount_options[] = {
	{"defaults", OPT_IGNORE, 0},
	{"ro", OPT_FLAG, MS_RDONLY},
	{"rw", OPT_CLEAR, MS_RDONLY},
	{"nosuid", OPT_FLAG, MS_NOSUID},
	{"suid", OPT_CLEAR, MS_NOSUID},
	{"nodev", OPT_FLAG, MS_NODEV},
	{"dev", OPT_CLEAR, MS_NODEV},
	{"noexec", OPT_FLAG, MS_NOEXEC},
	{"exec", OPT_CLEAR, MS_NOEXEC},
	{"sync", OPT_FLAG, MS_SYNCHRONOUS},
	{"async", OPT_CLEAR, MS_SYNCHRONOUS},
	{"dirsync", OPT_FLAG, MS_DIRSYNC},
	{"remount", OPT_FLAG, MS_REMOUNT},
	{"mand", OPT_FLAG, MS_MANDLOCK},
	{"nomand", OPT_CLEAR, MS_MANDLOCK},
	{"atime", OPT_CLEAR, MS_NOATIME},
	{"noatime", OPT_FLAG, MS_NOATIME},
	{"diratime", OPT_CLEAR, MS_NODIRATIME},
	{"nodiratime", OPT_FLAG, MS_NODIRATIME},
	{"relatime", OPT_FLAG, MS_RELATIME},
	{"norelatime", OPT_CLEAR, MS_RELATIME},
	{"strictatime", OPT_FLAG, MS_STRICTATIME},
	{"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
	{"lazytime", OPT_FLAG, MS_LAZYTIME},
	{"nolazytime", OPT_CLEAR, MS_LAZYTIME},
	{"silent", OPT_FLAG, MS_SILENT},
	{"loud", OPT_CLEAR, MS_SILENT},
	{"iversion", OPT_FLAG, MS_I_VERSION},
	{"noiversion", OPT_CLEAR, MS_I_VERSION},
	{"nosymfollow", OPT_FLAG, MS_NOSYMFOLLOW},
	{"symfollow", OPT_CLEAR, MS_NOSYMFOLLOW},
	{"bind", OPT_BIND, 0},
	{"rbind", OPT_BIND, MS_REC},
	{"private", OPT_PROPAGATION, MS_PRIVATE},
	{"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
	{"shared", OPT_PROPAGATION, MS_SHARED},
	{"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
	{"slave", OPT_PROPAGATION, MS_SLAVE},
	{"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
	{"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
	{"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
	{"rro", OPT_RATTR_SET, MOUNT_ATTR_RDONLY},
	{"rrw", OPT_RATTR_CLR, MOUNT_ATTR_RDONLY},
	{"rnosuid", OPT_RATTR_SET, MOUNT_ATTR_NOSUID},
	{"rsuid", OPT_RATTR_CLR, MOUNT_ATTR_NOSUID},
	{"rnodev", OPT_RATTR_SET, MOUNT_ATTR_NODEV},
	{"rdev", OPT_RATTR_CLR, MOUNT_ATTR_NODEV},
	{"rnoexec", OPT_RATTR_SET, MOUNT_ATTR_NOEXEC},
	{"rexec", OPT_RATTR_CLR, MOUNT_ATTR_NOEXEC},
	{"rnodiratime", OPT_RATTR_SET, MOUNT_ATTR_NODIRATIME},
	{"rdiratime", OPT_RATTR_CLR, MOUNT_ATTR_NODIRATIME},
	{"rnoatime", OPT_RATTR_SET, MOUNT_ATTR_NOATIME},
	{"rrelatime", OPT_RATTR_SET, MOUNT_ATTR_RELATIME},
	{"rstrictatime", OPT_RATTR_SET, MOUNT_ATTR_STRICTATIME},
	{"rnosymfollow", OPT_RATTR_SET, MOUNT_ATTR_NOSYMFOLLOW},
	{"rsymfollow", OPT_RATTR_CLR, MOUNT_ATTR_NOSYMFOLLOW},
	/* accepted for compatibility; the rootfs is never copied up */
	{"tmpcopyup", OPT_IGNORE, 0},
};

static void append_data(char **data, const char *opt)
{
	char *old = *data;
	*data = old ? xasprintf("%s,%s", old, opt) : xstrdup(opt);
	free(old);
}

int mount_parse_options(char *const *opts, size_t n, struct mount_opts *ret, struct ocr_error *err)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < n; i++) {
		const char *o = opts[i];
		bool found = false;

		if (o == NULL)
			break;
		if (strchr(o, ',') != NULL) {
			char shown[256];

			str_escape(shown, sizeof(shown), o);
			return ocr_fail(err, EINVAL,
					"mount option `%s` contains a comma: give each option as its own entry", shown);
		}
		for (size_t k = 0; k < ARRAY_SIZE(mount_options) && !found; k++) {
			if (strcmp(o, mount_options[k].name) != 0)
				continue;
			found = true;
			switch (mount_options[k].kind) {
			case OPT_FLAG:
				ret->flags |= mount_options[k].value;
				ret->clear &= ~mount_options[k].value;
				break;
			case OPT_CLEAR:
				ret->flags &= ~mount_options[k].value;
				ret->clear |= mount_options[k].value;
				break;
			case OPT_PROPAGATION:
				ret->propagation = mount_options[k].value;
				break;
			case OPT_BIND:
				ret->bind = true;
				ret->recursive = ret->recursive || mount_options[k].value;
				break;
			case OPT_RATTR_SET:
				ret->attr_set |= mount_options[k].value;
				ret->has_rattrs = true;
				break;
			case OPT_RATTR_CLR:
				ret->attr_clr |= mount_options[k].value;
				ret->has_rattrs = true;
				break;
			case OPT_IGNORE:
				break;
			default:
				break;
			}
		}
		if (!found)
			append_data(&ret->data, o);
	}
	return 0;
}

void mount_opts_clear(struct mount_opts *o)
{
	free(o->data);
	o->data = NULL;
}

void mount_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int open_in_root(int rootfd, const char *path, int flags)
{
	while (*path == '/')
		path++;
	return resolve_in_root(rootfd, *path == '\0' ? "." : path, flags);
}

/* Create the missing components of PATH one by one; each parent is
 * re-resolved inside the root, so a symlink component stays confined. */
static int create_path(int rootfd, const char *path, bool is_dir, struct ocr_error *err)
{
	cleanup_free char *copy = xstrdup(path);
	cleanup_free char *prefix = xcalloc(strlen(path) + 2, 1);
	char *save = NULL;
	char *name = strtok_r(copy, "/", &save);

	strcpy(prefix, "/");
	while (name != NULL) {
		cleanup_close int parent = -1;
		char *next = strtok_r(NULL, "/", &save);
		bool last = next == NULL;
		const char *sep = strcmp(prefix, "/") == 0 ? "" : "/";

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return ocr_fail(err, EINVAL, "`%s`: `.` and `..` are not allowed in a mount destination", path);
		parent = open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY);
		if (parent < 0)
			return ocr_fail_errno(err, "resolve `%s` in the rootfs", prefix);
		if (!last || is_dir) {
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
				return ocr_fail_errno(err, "mkdir `%s%s%s` in the rootfs", prefix, sep, name);
		} else {
			int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0 && errno != EEXIST)
				return ocr_fail_errno(err, "create `%s%s%s` in the rootfs", prefix, sep, name);
			if (fd >= 0)
				close(fd);
		}
		if (strlen(prefix) > 1)
			strcat(prefix, "/");
		strcat(prefix, name);
		name = next;
	}
	return 0;
}

int mount_open_in_root(int rootfd, const char *path, bool create, bool is_dir, struct ocr_error *err)
{
	int fd = open_in_root(rootfd, path, O_PATH);

	if (fd < 0 && errno == ENOENT && create) {
		if (create_path(rootfd, path, is_dir, err) < 0)
			return -1;
		fd = open_in_root(rootfd, path, O_PATH);
	}
	if (fd < 0)
		return ocr_fail_errno(err, "resolve `%s` in the rootfs", path);
	return fd;
}

unsigned long mount_locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

const char *mount_option_name(size_t i)
{
	return i < ARRAY_SIZE(mount_options) ? mount_options[i].name : NULL;
}
