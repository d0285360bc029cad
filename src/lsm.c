#include "lsm.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "utils.h"

static bool apparmor_enabled(void)
{
	char buf[4] = "";
	cleanup_close int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);

	return fd >= 0 && read(fd, buf, 1) == 1 && buf[0] == 'Y';
}

static bool selinux_enabled(void)
{
	struct stat st;
	return stat("/sys/fs/selinux/enforce", &st) == 0;
}

int lsm_check(const struct spec_process *p, struct ocr_error *err)
{
	if (p->apparmor_profile && p->apparmor_profile[0] && !apparmor_enabled())
		return ocr_fail(err, ENOTSUP, "process.apparmorProfile `%s`: AppArmor is not enabled on this host",
				p->apparmor_profile);
	if (p->selinux_label && p->selinux_label[0] && !selinux_enabled())
		return ocr_fail(err, ENOTSUP, "process.selinuxLabel `%s`: SELinux is not enabled on this host",
				p->selinux_label);
	return 0;
}

/* The new interface first, then the one shared by all LSMs. Written after
 * pivot_root, through the container's /proc: only into the real procfs. */
static int write_attr(const char *const *paths, const char *value, const char *field, struct ocr_error *err)
{
	for (size_t i = 0; paths[i]; i++) {
		int rc = write_proc_file(paths[i], value, strlen(value), err);
		if (rc == 0)
			return 0;
		if (err->err != ENOENT)
			return ocr_wrap(err, "%s", field);
	}
	return ocr_wrap(err, "%s", field);
}

int lsm_apply_on_exec(const struct spec_process *p, struct ocr_error *err)
{
	static const char *const aa[] = {"/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec", NULL};
	static const char *const se[] = {"/proc/thread-self/attr/exec", NULL};

	if (p->apparmor_profile && p->apparmor_profile[0]) {
		cleanup_free char *v = xasprintf("exec %s", p->apparmor_profile);
		if (write_attr(aa, v, "process.apparmorProfile", err) < 0)
			return -1;
	}
	if (p->selinux_label && p->selinux_label[0] &&
	    write_attr(se, p->selinux_label, "process.selinuxLabel", err) < 0)
		return -1;
	return 0;
}
