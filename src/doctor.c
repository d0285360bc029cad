#include "doctor.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "idmap.h"
#include "subid.h"
#include "utils.h"

#define CGROUP2_MAGIC 0x63677270
#define TMPFS_MAGIC_ 0x01021994

/* Everything the checks share: who we are, computed once. */
struct doctor_env {
	const struct ocr_ctx *ctx;
	struct doctor_report *r;
	char user[256];
	uid_t uid;
	gid_t gid;
	size_t mapped_gids; /* how many gids the default map gives */
};

void doctor_vadd(struct doctor_report *r, const char *check, enum doctor_status st, const char *fix, const char *fmt,
		 va_list ap)
{
	struct doctor_finding *f;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->f = xrealloc(r->f, r->cap * sizeof(*r->f));
	}
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->check, sizeof(f->check), "%s", check);
	f->status = st;
	snprintf(f->fix, sizeof(f->fix), "%s", st == DOCTOR_OK || fix == NULL ? "" : fix);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
}

void doctor_add(struct doctor_report *r, const char *check, enum doctor_status st, const char *fix, const char *fmt,
		...)
{
	va_list ap;

	va_start(ap, fmt);
	doctor_vadd(r, check, st, fix, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 5, 6))) static void add(struct doctor_env *e, const char *check, enum doctor_status st,
						      const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	doctor_vadd(e->r, check, st, fix, fmt, ap);
	va_end(ap);
}

const char *doctor_status_name(enum doctor_status s)
{
	switch (s) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_WARN:
		return "warn";
	case DOCTOR_FAIL:
		return "fail";
	default:
		return "?";
	}
}

size_t doctor_count(const struct doctor_report *r, enum doctor_status s)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->f[i].status == s;
	return n;
}

void doctor_report_clear(struct doctor_report *r)
{
	free(r->f);
	memset(r, 0, sizeof(*r));
}

/* A small /proc/sys or /sys file, newline stripped; false when absent. */
static bool read_small(const char *path, char *buf, size_t len)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_all(fd, buf, len - 1) : -1;

	if (n < 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

static long read_long(const char *path)
{
	char buf[64];

	return read_small(path, buf, sizeof(buf)) ? strtol(buf, NULL, 10) : -1;
}

/* ------------------------------------------------------ who, userns */

static void check_user(struct doctor_env *e)
{
	if (e->uid == 0 && e->ctx->initial_userns)
		add(e, "user", DOCTOR_WARN, "run `ocirt-rootless doctor` as the user who runs containers",
		    "running as root: these checks are for an unprivileged user");
	else if (!e->ctx->initial_userns)
		add(e, "user", DOCTOR_OK, NULL,
		    "%s (uid %u) inside a user namespace (Podman or nested): the runtime "
		    "uses the maps it was given",
		    e->user, (unsigned)e->uid);
	else
		add(e, "user", DOCTOR_OK, NULL, "%s (uid %u, gid %u)", e->user, (unsigned)e->uid, (unsigned)e->gid);
}

static void check_userns_knobs(struct doctor_env *e)
{
	long max = read_long("/proc/sys/user/max_user_namespaces");
	long clone = read_long("/proc/sys/kernel/unprivileged_userns_clone");
	long aa = read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");

	if (max == 0)
		add(e, "userns.max", DOCTOR_FAIL,
		    "sudo sysctl -w user.max_user_namespaces=15000 (and the same line "
		    "in /etc/sysctl.d/userns.conf)",
		    "user.max_user_namespaces is 0: user namespaces are disabled");
	else if (max > 0)
		add(e, "userns.max", DOCTOR_OK, NULL, "user.max_user_namespaces is %ld", max);
	if (clone == 0)
		add(e, "userns.clone", DOCTOR_FAIL, "sudo sysctl -w kernel.unprivileged_userns_clone=1",
		    "kernel.unprivileged_userns_clone is 0: unprivileged user namespaces are disabled");
	else if (clone > 0)
		add(e, "userns.clone", DOCTOR_OK, NULL, "kernel.unprivileged_userns_clone is %ld", clone);
	if (aa == 1)
		add(e, "userns.apparmor", DOCTOR_FAIL,
		    "an AppArmor profile for ocirt-rootless with `userns,` in /etc/apparmor.d/, or sudo sysctl -w "
		    "kernel.apparmor_restrict_unprivileged_userns=0",
		    "kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor takes every capability from "
		    "unconfined programs in a new user namespace");
	else if (aa == 0)
		add(e, "userns.apparmor", DOCTOR_OK, NULL, "kernel.apparmor_restrict_unprivileged_userns is 0");
}

/* The probe child: a user namespace with our own id as root, then a mount
 * namespace with a kernel overlay in DIR (lower, upper, work, merged).
 * Reports two errnos (0 = worked) on FD. */
__attribute__((noreturn)) static void probe_child(int fd, uid_t uid, gid_t gid, const char *dir)
{
	int res[2] = {0, -1};
	char map[64], opts[PATH_MAX * 3 + 64], merged[PATH_MAX + 16];
	struct ocr_error err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWUSER) < 0) {
		res[0] = errno;
		goto out;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (write_file_at(AT_FDCWD, "/proc/self/uid_map", map, strlen(map), &err) < 0 ||
	    write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", 4, &err) < 0) {
		res[0] = err.err ? err.err : EPERM;
		goto out;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	if (write_file_at(AT_FDCWD, "/proc/self/gid_map", map, strlen(map), &err) < 0) {
		res[0] = err.err ? err.err : EPERM;
		goto out;
	}
	res[1] = 0;
	snprintf(opts, sizeof(opts), "lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work,userxattr", dir, dir, dir);
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	if (dir[0] == '\0')
		res[1] = ENOENT;
	else if (unshare(CLONE_NEWNS) < 0 || mount("overlay", merged, "overlay", 0, opts) < 0)
		res[1] = errno;
out:
	if (write_all(fd, res, sizeof(res)) < 0)
		_exit(1);
	_exit(0);
}

/* Make a scratch dir for the overlay probe, next to where the state goes. */
static void probe_dir(const struct ocr_ctx *ctx, char *buf, size_t len)
{
	static const char *const sub[] = {"lower", "upper", "work", "merged"};
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	(void)ctx;
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && st.st_uid == getuid())
		snprintf(buf, len, "%s/ocirt-doctor-XXXXXX", xdg);
	else
		snprintf(buf, len, "/tmp/ocirt-doctor-XXXXXX");
	if (mkdtemp(buf) == NULL) {
		buf[0] = '\0';
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		char p[PATH_MAX + 16];
		snprintf(p, sizeof(p), "%s/%s", buf, sub[i]);
		if (mkdir(p, 0700) < 0)
			return;
	}
}

/* overlayfs leaves work/work with mode 0: open it up, then remove all. */
static void probe_cleanup(const struct doctor_env *e, const char *dir)
{
	char work[PATH_MAX + 8];
	cleanup_dir DIR *d = NULL;
	struct ocr_error err;
	struct dirent *de;

	snprintf(work, sizeof(work), "%s/work", dir);
	d = opendir(work);
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)fchmodat(dirfd(d), de->d_name, 0700, 0);
	if (rm_rf_at(AT_FDCWD, dir, &err) < 0)
		ocr_debug(&e->ctx->log, "doctor: could not remove `%s`", dir);
}

static void check_userns_probe(struct doctor_env *e)
{
	char dir[PATH_MAX], why[768];
	int res[2] = {EIO, -1}, pfd[2];
	struct utsname u;
	unsigned maj = 0, min = 0;
	pid_t pid;

	if (!e->ctx->initial_userns || e->uid == 0)
		return;
	probe_dir(e->ctx, dir, sizeof(dir));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		probe_child(pfd[1], e->uid, e->gid, dir);
	}
	close(pfd[1]);
	if (pid < 0 || read_all(pfd[0], res, sizeof(res)) != (ssize_t)sizeof(res))
		res[0] = EIO;
	close(pfd[0]);
	if (pid > 0)
		TEMP_FAILURE_RETRY(waitpid(pid, NULL, 0));
	if (dir[0])
		probe_cleanup(e, dir);
	if (res[0] == 0) {
		add(e, "userns", DOCTOR_OK, NULL, "created a user namespace and mapped uid %u to 0", (unsigned)e->uid);
	} else {
		idmap_explain_userns_failure(res[0], why, sizeof(why));
		add(e, "userns", DOCTOR_FAIL, why, "cannot create a user namespace: %s", strerror(res[0]));
		return;
	}
	if (uname(&u) == 0)
		sscanf(u.release, "%u.%u", &maj, &min);
	if (res[1] == 0)
		add(e, "overlay.kernel", DOCTOR_OK, NULL, "kernel %s mounts overlayfs in a user namespace (userxattr)",
		    u.release);
	else if (maj < 5 || (maj == 5 && min < 11))
		add(e, "overlay.kernel", DOCTOR_WARN, "a kernel >= 5.11, or fuse-overlayfs (below)",
		    "kernel %s is older than 5.11: no overlayfs in a user namespace, layered rootfs needs "
		    "fuse-overlayfs",
		    u.release);
	else
		add(e, "overlay.kernel", DOCTOR_WARN, "keep state on a local disk or tmpfs, or install fuse-overlayfs",
		    "overlayfs in a user namespace failed under `%s`: %s; layered rootfs will use fuse-overlayfs",
		    dir[0] ? dir : "/tmp", strerror(res[1]));
}

/* ------------------------------------------------- helpers, subids */

/* WHY from idmap_helper_usable is "reason: run `fix` (more)": the reason
 * stays in WHY, the fix goes to FIX. */
static void split_fix(char *why, char *fix, size_t len)
{
	char *start = strstr(why, ": run `");

	snprintf(fix, len, "%s", start ? start + 7 : why);
	fix[strcspn(fix, "`")] = '\0';
	if (start)
		*start = '\0';
}

static void check_helper(struct doctor_env *e, enum subid_kind kind)
{
	const char *name = kind == SUBID_UID ? "newuidmap" : "newgidmap";
	struct idmap_helper h;
	struct ocr_error err = {0};
	char why[PATH_MAX + 768], fix[sizeof(why)], what[PATH_MAX + 64];
	struct stat st;

	if (idmap_helper_find(e->ctx, kind, &h, &err) < 0) {
		add(e, name, DOCTOR_FAIL, "point --idmap-helper / " IDMAP_HELPER_ENV " at an installed newuidmap-shim",
		    "%s", err.msg);
		return;
	}
	snprintf(what, sizeof(what), "`%s`%s", h.path,
		 h.configured ? " (configured)"
		 : h.shim     ? " (newuidmap-shim)"
			      : "");
	if (h.path[0] == '\0') {
		add(e, name, DOCTOR_WARN, "sudo apt install uidmap (Fedora: sudo dnf install shadow-utils)",
		    "%s is not installed: containers get a single-id map (your id as root only)", name);
	} else if (!idmap_helper_usable(&h, kind, why, sizeof(why))) {
		split_fix(why, fix, sizeof(fix));
		add(e, name, DOCTOR_FAIL, fix, "%s", why);
	} else {
		bool suid = stat(h.path, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID);
		const char *how = suid		      ? "setuid root"
				  : kind == SUBID_UID ? "cap_setuid file capability"
						      : "cap_setgid file capability";
		struct idmap_helper shadow = {0};

		if (h.passed_over[0] == '\0') {
			add(e, name, DOCTOR_OK, NULL, "%s, %s", what, how);
			return;
		}
		/* The same choice as the runtime's: say why shadow's helper,
		 * first on PATH, is not the one used. */
		snprintf(shadow.path, sizeof(shadow.path), "%s", h.passed_over);
		if (idmap_helper_usable(&shadow, kind, why, sizeof(why)))
			snprintf(why, sizeof(why), "`%s` cannot write maps", h.passed_over);
		split_fix(why, fix, sizeof(fix));
		add(e, name, DOCTOR_OK, NULL, "%s, %s; used because %s", what, how, why);
	}
}

static uint64_t total_ids(const struct subid_ranges *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->r[i].count;
	return n;
}

static void check_subids(struct doctor_env *e, enum subid_kind kind, struct subid_ranges *r)
{
	const char *name = kind == SUBID_UID ? "subuid" : "subgid";
	struct ocr_error err = {0};
	char have[256], line[128], fix[512];
	uint64_t total;

	if (subid_lookup(kind, e->user, e->uid, r, &err) < 0) {
		add(e, name, DOCTOR_FAIL, "make it readable: sudo chmod 0644 /etc/subuid /etc/subgid", "%s", err.msg);
		return;
	}
	idmap_suggest_subid_line(kind, e->user, line, sizeof(line));
	snprintf(fix, sizeof(fix), "echo %s | sudo tee -a %s", line, subid_file(kind));
	if (r->n == 0) {
		add(e, name, DOCTOR_WARN, fix,
		    "%s has no subordinate %ss (asked libsubid and %s): containers get a "
		    "single-id map",
		    e->user, subid_kind_name(kind), subid_file(kind));
		return;
	}
	total = total_ids(r);
	subid_format(r->r, r->n, have, sizeof(have));
	if (total < 65536)
		add(e, name, DOCTOR_WARN, fix,
		    "%s (%llu ids, from %s): images with ids up to 65534 (nobody) need "
		    "65536",
		    have, (unsigned long long)total, r->where);
	else
		add(e, name, DOCTOR_OK, NULL, "%s (%llu ids, from %s)", have, (unsigned long long)total, r->where);
}

/* ------------------------------------------ runtime dir, state, fs */

static const char *network_fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0x6969:
		return "NFS";
	case 0x47504653:
		return "GPFS";
	case 0x0BD00BD0:
		return "Lustre";
	case 0xFF534D42:
		return "CIFS";
	case 0xFE534D42:
		return "SMB2";
	case 0x00C36400:
		return "CephFS";
	case 0x19830326:
		return "BeeGFS";
	case 0x5346414F:
		return "AFS";
	default:
		return NULL;
	}
}

/* PATH or its nearest existing parent. */
static void existing_ancestor(const char *path, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s", path);
	while (stat(buf, &st) < 0 && strcmp(buf, "/") != 0) {
		char *slash = strrchr(buf, '/');
		if (slash == NULL)
			break;
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

static void check_fs(struct doctor_env *e, const char *check, const char *what, const char *path)
{
	char at[PATH_MAX];
	struct statfs sf;
	const char *fs;

	if (path == NULL)
		return;
	existing_ancestor(path, at, sizeof(at));
	if (statfs(at, &sf) < 0)
		return;
	fs = network_fs_name(sf.f_type);
	if (fs)
		add(e, check, DOCTOR_WARN,
		    "keep state and overlay upper dirs on local storage: --root on a local "
		    "disk or tmpfs, --upper DIR on a local disk",
		    "%s `%s` is on %s: no user xattrs or d_type for overlays, locks and ownership unreliable", what, at,
		    fs);
	else
		add(e, check, DOCTOR_OK, NULL, "%s `%s` is on a local filesystem (magic 0x%lx)", what, at,
		    (unsigned long)sf.f_type);
}

static void check_xdg(struct doctor_env *e)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char fix[512];
	struct stat st;

	snprintf(fix, sizeof(fix),
		 "log in through a session (sudo loginctl enable-linger %s), or export "
		 "XDG_RUNTIME_DIR=/run/user/%u",
		 e->user, (unsigned)e->uid);
	if (xdg == NULL || xdg[0] == '\0') {
		add(e, "xdg-runtime-dir", DOCTOR_WARN, fix,
		    "XDG_RUNTIME_DIR is not set (su, sudo, cron, CI?): state goes to /tmp/ocirt-rootless-%u",
		    (unsigned)e->uid);
	} else if (stat(xdg, &st) < 0 || !S_ISDIR(st.st_mode)) {
		add(e, "xdg-runtime-dir", DOCTOR_WARN, fix,
		    "XDG_RUNTIME_DIR `%s` is not a directory: state goes to "
		    "/tmp/ocirt-rootless-%u",
		    xdg, (unsigned)e->uid);
	} else if (st.st_uid != e->uid) {
		add(e, "xdg-runtime-dir", DOCTOR_WARN, fix,
		    "XDG_RUNTIME_DIR `%s` belongs to uid %u, not to you: "
		    "state goes to /tmp/ocirt-rootless-%u",
		    xdg, (unsigned)st.st_uid, (unsigned)e->uid);
	} else if ((st.st_mode & 07777) != 0700) {
		snprintf(fix, sizeof(fix), "chmod 0700 %s", xdg);
		add(e, "xdg-runtime-dir", DOCTOR_WARN, fix, "XDG_RUNTIME_DIR `%s` has mode %04o, not 0700", xdg,
		    (unsigned)(st.st_mode & 07777));
	} else {
		add(e, "xdg-runtime-dir", DOCTOR_OK, NULL, "`%s`, yours, mode 0700", xdg);
	}
}

static void check_state_root(struct doctor_env *e)
{
	const char *root = e->ctx->root;
	char fix[PATH_MAX + 128], at[PATH_MAX];
	struct stat st;

	if (root == NULL)
		return;
	if (stat(root, &st) < 0) {
		existing_ancestor(root, at, sizeof(at));
		if (access(at, W_OK | X_OK) == 0) {
			add(e, "state-root", DOCTOR_OK, NULL, "`%s` will be created (mode 0700)", root);
		} else {
			snprintf(fix, sizeof(fix), "pass --root DIR in a directory of yours");
			add(e, "state-root", DOCTOR_FAIL, fix, "`%s` cannot be created: `%s` is not writable for you",
			    root, at);
		}
	} else if (!S_ISDIR(st.st_mode) || st.st_uid != e->uid) {
		snprintf(fix, sizeof(fix), "remove `%s` or pass --root DIR in a directory of yours", root);
		add(e, "state-root", DOCTOR_FAIL, fix, "`%s` is not a directory of yours (owner uid %u)", root,
		    (unsigned)st.st_uid);
	} else if (st.st_mode & 0022) {
		snprintf(fix, sizeof(fix), "chmod 0700 %s", root);
		add(e, "state-root", DOCTOR_FAIL, fix, "`%s` has mode %04o: writable by others, the runtime refuses it",
		    root, (unsigned)(st.st_mode & 07777));
	} else if (st.st_mode & 0055) {
		snprintf(fix, sizeof(fix), "chmod 0700 %s", root);
		add(e, "state-root", DOCTOR_WARN, fix, "`%s` has mode %04o: others can read container state", root,
		    (unsigned)(st.st_mode & 07777));
	} else {
		add(e, "state-root", DOCTOR_OK, NULL, "`%s`, yours, mode %04o", root, (unsigned)(st.st_mode & 07777));
	}
	check_fs(e, "state-fs", "state root", root);
}

/* ----------------------------------------------------------- cgroups */

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

static void check_delegation(struct doctor_env *e)
{
	static const char *const wanted[] = {"cpu", "memory", "pids", "io"};
	char path[PATH_MAX + 32], ctrl[512], missing[64] = "", own[PATH_MAX] = "", fix[512];
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX];

	while (f && fgets(line, sizeof(line), f))
		if (str_has_prefix(line, "0::")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(own, sizeof(own), "%s", line + 3);
		}
	snprintf(path, sizeof(path), "/sys/fs/cgroup/user.slice/user-%u.slice/user@%u.service/cgroup.controllers",
		 (unsigned)e->uid, (unsigned)e->uid);
	if (!read_small(path, ctrl, sizeof(ctrl))) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s", own);
		snprintf(fix, sizeof(fix),
			 "sudo loginctl enable-linger %s and log in again (systemd), or have root "
			 "delegate a cgroup to you (chown it and its cgroup.procs, "
			 "cgroup.subtree_control, cgroup.threads)",
			 e->user);
		if (own[0] && access(path, W_OK) == 0)
			add(e, "cgroup.delegation", DOCTOR_OK, NULL,
			    "no user@%u.service, but your cgroup `%s` is "
			    "writable: the cgroupfs manager works there",
			    (unsigned)e->uid, own);
		else
			add(e, "cgroup.delegation", DOCTOR_WARN, fix,
			    "no user@%u.service and your cgroup `%s` is not "
			    "writable: containers run without a cgroup "
			    "(no limits)",
			    (unsigned)e->uid, own[0] ? own : "?");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(wanted); i++)
		if (!has_word(ctrl, wanted[i]))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
				 missing[0] ? " " : "", wanted[i]);
	if (missing[0])
		add(e, "cgroup.delegation", DOCTOR_WARN,
		    "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io "
		    "memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl "
		    "daemon-reload, then log in again",
		    "user@%u.service lacks the controllers %s (has: %s): limits on them are ignored", (unsigned)e->uid,
		    missing, ctrl[0] ? ctrl : "none");
	else
		add(e, "cgroup.delegation", DOCTOR_OK, NULL, "user@%u.service delegates %s", (unsigned)e->uid, ctrl);
}

static void check_cgroup(struct doctor_env *e)
{
	struct statfs sf, su;
	bool hybrid;

	if (statfs("/sys/fs/cgroup", &sf) < 0) {
		add(e, "cgroup", DOCTOR_WARN, "mount cgroup2 on /sys/fs/cgroup",
		    "/sys/fs/cgroup is not mounted: limits unavailable, containers run without a cgroup");
		return;
	}
	if (sf.f_type == CGROUP2_MAGIC) {
		add(e, "cgroup", DOCTOR_OK, NULL, "cgroup v2 (unified)");
		check_delegation(e);
		return;
	}
	hybrid = statfs("/sys/fs/cgroup/unified", &su) == 0 && su.f_type == CGROUP2_MAGIC;
	add(e, "cgroup", DOCTOR_WARN,
	    "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line (cgroup v2)",
	    "cgroup %s: limits unavailable, rootless containers run without memory/cpu/pids limits",
	    hybrid ? "v1+v2 hybrid" : "v1");
}

static void check_session(struct doctor_env *e)
{
	const char *bus = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char sock[PATH_MAX + 8], fix[384];
	struct stat st;

	snprintf(sock, sizeof(sock), "%s/bus", xdg ? xdg : "");
	snprintf(fix, sizeof(fix), "sudo loginctl enable-linger %s, then log in again", e->user);
	if (bus && bus[0])
		add(e, "systemd-session", DOCTOR_OK, NULL, "user D-Bus at %s", bus);
	else if (xdg && stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
		add(e, "systemd-session", DOCTOR_OK, NULL, "user D-Bus at `%s`", sock);
	else
		add(e, "systemd-session", DOCTOR_WARN, fix,
		    "no systemd user session bus (DBUS_SESSION_BUS_ADDRESS unset, "
		    "no $XDG_RUNTIME_DIR/bus): --systemd-cgroup is unavailable");
}

/* ------------------------------------------- devices, fuse, network */

static void check_device(struct doctor_env *e, const char *check, const char *path, const char *module,
			 const char *used_for)
{
	char fix[256];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
		snprintf(fix, sizeof(fix), "sudo modprobe %s (in a container: pass %s through)", module, path);
		add(e, check, DOCTOR_WARN, fix, "%s is missing: no %s", path, used_for);
	} else if (access(path, R_OK | W_OK) < 0) {
		snprintf(fix, sizeof(fix), "sudo chmod 0666 %s (udev rules do this on most distributions)", path);
		add(e, check, DOCTOR_WARN, fix, "%s is mode %04o, owner uid %u: you cannot open it, so no %s", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, used_for);
	} else {
		add(e, check, DOCTOR_OK, NULL, "%s is usable (mode %04o)", path, (unsigned)(st.st_mode & 07777));
	}
}

static void check_fuse_overlayfs(struct doctor_env *e, bool kernel_overlay)
{
	char path[PATH_MAX];

	if (find_program("fuse-overlayfs", getenv("PATH"), path, sizeof(path)))
		add(e, "fuse-overlayfs", DOCTOR_OK, NULL, "`%s`", path);
	else if (kernel_overlay)
		add(e, "fuse-overlayfs", DOCTOR_OK, NULL, "not installed; not needed while kernel overlay works");
	else
		add(e, "fuse-overlayfs", DOCTOR_WARN, "sudo apt install fuse-overlayfs",
		    "not installed, and kernel overlay in a user namespace does not work: no layered rootfs");
}

static void check_ports(struct doctor_env *e)
{
	long v = read_long("/proc/sys/net/ipv4/ip_unprivileged_port_start");

	if (v < 0)
		return;
	add(e, "unprivileged-ports", DOCTOR_OK, NULL,
	    "net.ipv4.ip_unprivileged_port_start is %ld: host ports below %ld can only be published after `sudo "
	    "sysctl -w net.ipv4.ip_unprivileged_port_start=PORT`",
	    v, v);
}

static void check_ping(struct doctor_env *e)
{
	char buf[64];
	unsigned long lo = 1, hi = 0;

	if (!read_small("/proc/sys/net/ipv4/ping_group_range", buf, sizeof(buf)) ||
	    sscanf(buf, "%lu %lu", &lo, &hi) != 2)
		return;
	for (char *p = buf; *p; p++)
		if (*p == '\t')
			*p = ' ';
	if (lo <= e->gid && e->gid <= hi)
		add(e, "ping-group-range", DOCTOR_OK, NULL,
		    "host range %lu-%lu includes your gid %u; in a container's own network namespace set "
		    "linux.sysctl net.ipv4.ping_group_range to \"0 %zu\" (the gids mapped by default): a wider "
		    "range fails with EINVAL",
		    lo, hi, (unsigned)e->gid, e->mapped_gids - 1);
	else
		add(e, "ping-group-range", DOCTOR_WARN, "sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"",
		    "host range `%s` excludes your gid %u: ping fails in containers without their own network "
		    "namespace; with one, set linux.sysctl net.ipv4.ping_group_range to \"0 %zu\" (the gids mapped "
		    "by default)",
		    buf, (unsigned)e->gid, e->mapped_gids - 1);
}

/* ------------------------------------------------------------- all */

int doctor_run(const struct ocr_ctx *ctx, struct doctor_report *ret, struct ocr_error *err)
{
	struct doctor_env e = {.ctx = ctx, .r = ret, .uid = ctx->euid, .gid = ctx->egid, .mapped_gids = 1};
	bool rootless = ctx->initial_userns && ctx->euid != 0;
	cleanup_free struct subid_ranges *ur = xcalloc(1, sizeof(*ur));
	cleanup_free struct subid_ranges *gr = xcalloc(1, sizeof(*gr));
	struct passwd *pw = getpwuid(ctx->euid);
	struct idmap_helper h;
	char why[768];
	size_t before;

	(void)err;
	memset(ret, 0, sizeof(*ret));
	snprintf(e.user, sizeof(e.user), "%s", pw ? pw->pw_name : "USER");
	check_user(&e);
	check_userns_knobs(&e);
	/* Maps and helpers matter to an unprivileged user in the host's user
	 * namespace only: root maps directly, a nested runtime uses its maps. */
	if (rootless) {
		check_userns_probe(&e);
		check_subids(&e, SUBID_UID, ur);
		check_subids(&e, SUBID_GID, gr);
		check_helper(&e, SUBID_UID);
		check_helper(&e, SUBID_GID);
		if (gr->n > 0 && ur->n > 0 && idmap_helper_find(ctx, SUBID_GID, &h, NULL) == 0 &&
		    idmap_helper_usable(&h, SUBID_GID, why, sizeof(why)))
			e.mapped_gids = 1 + (size_t)total_ids(gr);
	}
	if (ctx->euid != 0)
		check_xdg(&e);
	check_state_root(&e);
	check_fs(&e, "home-fs", "home", getenv("HOME"));
	check_cgroup(&e);
	if (ctx->euid != 0)
		check_session(&e);
	check_device(&e, "dev-fuse", "/dev/fuse", "fuse", "fuse-overlayfs");
	before = ret->n;
	for (size_t i = 0; i < before; i++)
		if (strcmp(ret->f[i].check, "overlay.kernel") == 0)
			check_fuse_overlayfs(&e, ret->f[i].status == DOCTOR_OK);
	if (ret->n == before)
		check_fuse_overlayfs(&e, false);
	check_device(&e, "dev-net-tun", "/dev/net/tun", "tun", "tap device for slirp4netns/pasta networking");
	check_ports(&e);
	if (ctx->euid != 0)
		check_ping(&e);
	return 0;
}
