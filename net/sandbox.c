/* The helper's sandbox, entered before it handles a packet (after the tap
 * fd, the API socket and the initial forwards exist):
 *  - a user namespace of its own (the same uid and gid mapped to
 *    themselves) so that an unprivileged helper may have a mount
 *    namespace; there, an empty read-only tmpfs becomes the root with
 *    only /etc and /run (read-only, for libslirp's resolv.conf) bound in;
 *  - no capabilities (bounding set, ambient, effective, permitted);
 *  - no_new_privs and a seccomp deny-list (exec, mount, ptrace,
 *    namespaces, kernel modules, keyrings, bpf, ...).
 * The network namespace stays the host's: slirp's sockets live there. */
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "mount.h"
#include "net.h"
#include "utils.h"

#define NEW_ROOT "/tmp"

static int write_proc(const char *path, const char *data, struct ocr_error *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write_all(fd, data, strlen(data)) < 0)
		return ocr_fail_errno(err, "sandbox: write `%s`", path);
	return 0;
}

static int own_userns(struct ocr_error *err)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return ocr_fail_errno(err, "sandbox: user and mount namespace");
	if (write_proc("/proc/self/setgroups", "deny", err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_proc("/proc/self/uid_map", map, err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_proc("/proc/self/gid_map", map, err);
}

/* Bind FROM (recursively) at TO, read-only, nosuid, nodev, noexec. The
 * atime flags are left as they are (a remount without them keeps them),
 * which the kernel requires for mounts locked by a user namespace. */
static int bind_ro(const char *from, const char *to, struct ocr_error *err)
{
	struct stat st;

	if (stat(from, &st) < 0 || !S_ISDIR(st.st_mode)) {
		net_debug("sandbox: no `%s` on this host, not bound", from);
		return 0;
	}
	if (mkdir(to, 0755) < 0)
		return ocr_fail_errno(err, "sandbox: mkdir `%s`", to);
	if (mount(from, to, MOUNT_TYPE_NONE, MS_BIND | MS_REC, NULL) < 0)
		return ocr_fail_errno(err, "sandbox: bind `%s`", from);
	if (mount(NULL, to, MOUNT_TYPE_NONE, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		net_debug("sandbox: `%s` stays writable (remount read-only: %s)", from, strerror(errno));
	return 0;
}

static int empty_root(struct ocr_error *err)
{
	if (mount(NULL, "/", MOUNT_TYPE_NONE, MS_REC | MS_PRIVATE, NULL) < 0)
		return ocr_fail_errno(err, "sandbox: make / private");
	if (mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755") < 0)
		return ocr_fail_errno(err, "sandbox: tmpfs on " NEW_ROOT);
	if (bind_ro("/etc", NEW_ROOT "/etc", err) < 0 || bind_ro("/run", NEW_ROOT "/run", err) < 0)
		return -1;
	if (mkdir(NEW_ROOT "/old", 0755) < 0)
		return ocr_fail_errno(err, "sandbox: mkdir " NEW_ROOT "/old");
	if (chdir(NEW_ROOT) < 0)
		return ocr_fail_errno(err, "sandbox: chdir " NEW_ROOT);
	if (syscall(SYS_pivot_root, ".", "old") < 0)
		return ocr_fail_errno(err, "sandbox: pivot_root");
	if (chdir("/") < 0)
		return ocr_fail_errno(err, "sandbox: chdir /");
	if (umount2("/old", MNT_DETACH) < 0)
		return ocr_fail_errno(err, "sandbox: detach the old root");
	if (rmdir("/old") < 0)
		return ocr_fail_errno(err, "sandbox: rmdir /old");
	if (mount(NULL, "/", MOUNT_TYPE_NONE, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		net_debug("sandbox: the empty root stays writable (remount read-only: %s)", strerror(errno));
	return 0;
}

static int drop_caps(struct ocr_error *err)
{
	cap_t none = cap_init();
	int rc = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ocr_fail_errno(err, "sandbox: no_new_privs");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) <= 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			/* Without CAP_SETPCAP (no own user namespace) the bounding
			 * set cannot shrink; there is nothing in it to use either. */
			net_debug("sandbox: bounding set kept (%s)", strerror(errno));
			break;
		}
	}
	if (none == NULL || cap_set_proc(none) < 0)
		rc = ocr_fail_errno(err, "sandbox: drop capabilities");
	cap_free(none);
	return rc;
}

/* Syscalls the helper never needs after start-up; EPERM. */
static const char *const denied[] = {
	"execve",
	"execveat",
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"kcmp",
	"pidfd_getfd",
	"mount",
	"umount",
	"umount2",
	"pivot_root",
	"chroot",
	"unshare",
	"setns",
	"fsopen",
	"fsconfig",
	"fsmount",
	"fspick",
	"move_mount",
	"open_tree",
	"mount_setattr",
	"open_by_handle_at",
	"name_to_handle_at",
	"init_module",
	"finit_module",
	"delete_module",
	"kexec_load",
	"kexec_file_load",
	"reboot",
	"swapon",
	"swapoff",
	"acct",
	"quotactl",
	"quotactl_fd",
	"bpf",
	"perf_event_open",
	"userfaultfd",
	"keyctl",
	"add_key",
	"request_key",
	"syslog",
	"uselib",
	"personality",
	"settimeofday",
	"clock_settime",
	"clock_adjtime",
	"adjtimex",
	"sethostname",
	"setdomainname",
	"iopl",
	"ioperm",
	"lookup_dcookie",
	"fanotify_init",
	"vhangup",
	"nfsservctl",
	"mknod",
	"mknodat",
	"setuid",
	"setgid",
	"setreuid",
	"setregid",
	"setresuid",
	"setresgid",
	"setgroups",
	"setfsuid",
	"setfsgid",
	"capset",
};

static const int ns_flags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWNET,   CLONE_NEWPID,
			       CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP};

static int seccomp_filter(struct ocr_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (ctx == NULL)
		return ocr_fail(err, ENOMEM, "sandbox: seccomp_init");
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0)
			goto fail;
	}
	/* clone with namespace flags; clone3 hides its flags in memory, so
	 * it answers ENOSYS and the C library falls back to clone. */
	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
		rc = seccomp_rule_add(
			ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			SCMP_A0(SCMP_CMP_MASKED_EQ, (scmp_datum_t)ns_flags[i], (scmp_datum_t)ns_flags[i]));
		if (rc < 0)
			goto fail;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		goto fail;
	rc = seccomp_load(ctx);
	if (rc < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	errno = -rc;
	return ocr_fail_errno(err, "sandbox: seccomp filter");
}

int sandbox_enter(const struct net_config *cfg, struct ocr_error *err)
{
	if (cfg->sandbox) {
		struct ocr_error serr = {0};
		/* Without a user namespace of its own (user namespaces off) or
		 * without /tmp to build on, the rest of the sandbox still holds. */
		if (own_userns(&serr) < 0 || empty_root(&serr) < 0) {
			char msg[OCR_ERROR_MSG_MAX + 128];
			ocr_error_format(&serr, msg, sizeof(msg));
			net_debug("%s: no empty root, the helper keeps the host's file system view", msg);
		} else {
			net_debug("sandbox: empty root with /etc and /run read-only");
		}
	}
	if (drop_caps(err) < 0)
		return -1;
	if (cfg->seccomp) {
		if (seccomp_filter(err) < 0)
			return -1;
		net_debug("sandbox: seccomp deny-list loaded (%zu syscalls)", ARRAY_SIZE(denied) + 2);
	}
	return 0;
}
