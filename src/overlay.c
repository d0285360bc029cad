#include "overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>

#include "mount.h"
#include "utils.h"

#define OVL_DIR "overlay"
#define OVL_DRIVER_FILE "driver"
#define OVL_FUSE_LOG "fuse.log"
#define OVL_MOUNT_DATA_MAX 4000 /* mount(2) copies one page of options */
#define OVL_REMOVE_DEPTH 4096

enum ovl_mode { OVL_AUTO, OVL_KERNEL, OVL_FUSE };

struct ovl_priv {
	char **lowers; /* top first, NULL-terminated */
	char *upper, *work;
	char *dir; /* STATE/overlay */
	enum ovl_mode mode;
};

static const char *const mode_names[] = {"auto", "kernel", "fuse"};

static int parse_mode(const char *s, const char *what, enum ovl_mode *ret, struct ocr_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*ret = (enum ovl_mode)i;
			return 0;
		}
	return ocr_fail(err, EINVAL, "%s: `%s` is not auto, kernel or fuse", what, s);
}

/* Kernel and fuse-overlayfs options split on ',' and ':'; refuse them
 * rather than rely on escaping that older versions lack. */
static int check_path_chars(const char *p, const char *what, struct ocr_error *err)
{
	if (strpbrk(p, ",:\\\n") != NULL)
		return ocr_fail(err, EINVAL, "%s `%s`: overlay paths may not contain `,`, `:`, `\\` or newlines", what,
				p);
	return 0;
}

/* Canonical absolute path of an existing directory. */
static int resolve_dir(const char *p, const char *what, char **ret, struct ocr_error *err)
{
	struct stat st;
	char *real;

	if (p[0] != '/')
		return ocr_fail(err, EINVAL, "%s `%s`: not an absolute path", what, p);
	real = realpath(p, NULL);
	if (real == NULL)
		return ocr_fail_errno(err, "%s `%s`", what, p);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return ocr_fail(err, ENOTDIR, "%s `%s`: not a directory", what, p);
	}
	if (check_path_chars(real, what, err) < 0) {
		free(real);
		return -1;
	}
	*ret = real;
	return 0;
}

/* A inside (or equal to) B, both canonical. */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (strcmp(b, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* The layers from --layer, else from the annotation (split on ':'). */
static int collect_lowers(const struct spec *spec, const struct overlay_options *o, struct ovl_priv *p,
			  struct ocr_error *err)
{
	const char *ann = spec_annotation(spec, OVERLAY_ANN_LAYERS);
	cleanup_strv char **raw = NULL;
	size_t n = 0;

	if (o && o->layers && o->layers[0]) {
		n = strv_len(o->layers);
		raw = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			raw[i] = xstrdup(o->layers[i]);
	} else if (ann != NULL) {
		cleanup_free char *copy = xstrdup(ann);
		char *save = NULL, *tok;
		raw = xcalloc(OVERLAY_MAX_LAYERS + 2, sizeof(char *));
		for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
			if (n > OVERLAY_MAX_LAYERS)
				break;
			raw[n++] = xstrdup(tok);
		}
		if (n == 0)
			return ocr_fail(err, EINVAL, "annotation %s: no layer directories", OVERLAY_ANN_LAYERS);
	}
	if (n > OVERLAY_MAX_LAYERS)
		return ocr_fail(err, E2BIG, "more than %d layers", OVERLAY_MAX_LAYERS);
	p->lowers = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (resolve_dir(raw[i], "layer", &p->lowers[i], err) < 0)
			return -1;
	return 0;
}

static int mkdir_at(int dirfd, const char *name, mode_t mode, struct ocr_error *err)
{
	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return ocr_fail_errno(err, "mkdir `%s`", name);
	return 0;
}

static void warn_network_fs(const struct ocr_ctx *ctx, const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return;
	/* NFS, Lustre, GPFS: no user xattrs or no d_type, and slow. */
	if (sf.f_type == 0x6969 || sf.f_type == 0x0BD00BD0 || sf.f_type == 0x47504653)
		ocr_warn(&ctx->log,
			 "upper dir `%s` is on a network filesystem: overlays need local storage "
			 "(use a --upper on a local disk)",
			 path);
}

/* A persistent upper: created if missing. Its work dir must be on the
 * same mount: it goes next to the upper (".NAME.work-ID") and is removed
 * at delete. */
static int plan_upper(const struct ocr_ctx *ctx, const char *upper, const char *id, struct ovl_priv *p, json_t *ov,
		      struct ocr_error *err)
{
	const char *base;

	if (upper[0] != '/')
		return ocr_fail(err, EINVAL, "upper `%s`: not an absolute path", upper);
	if (mkdir_p(upper, 0755, err) < 0)
		return ocr_wrap(err, "upper");
	if (resolve_dir(upper, "upper", &p->upper, err) < 0)
		return -1;
	if (strcmp(p->upper, "/") == 0)
		return ocr_fail(err, EINVAL, "upper `%s`: not the root directory", upper);
	for (char **l = p->lowers; *l; l++)
		if (path_within(p->upper, *l) || path_within(*l, p->upper))
			return ocr_fail(err, EINVAL, "upper `%s` overlaps layer `%s`: layers are never written",
					p->upper, *l);
	warn_network_fs(ctx, p->upper);
	base = strrchr(p->upper, '/') + 1;
	p->work = xasprintf("%.*s/.%s.work-%s", (int)(base - 1 - p->upper), p->upper, base, id);
	json_object_set_new(ov, "upper", json_string(p->upper));
	json_object_set_new(ov, "work", json_string(p->work));
	if (mkdir(p->work, 0700) < 0 && errno != EEXIST)
		return ocr_fail_errno(err, "work dir `%s`", p->work);
	return 0;
}

int overlay_plan_make(const struct ocr_ctx *ctx, const struct spec *spec, const struct overlay_options *o,
		      int state_dirfd, const char *state_dir, json_t *extra, struct overlay_plan *plan,
		      struct ocr_error *err)
{
	struct ovl_priv *p = xcalloc(1, sizeof(*p));
	const char *upper = o && o->upper ? o->upper : spec_annotation(spec, OVERLAY_ANN_UPPER);
	const char *mode = o && o->mode ? o->mode : spec_annotation(spec, OVERLAY_ANN_MODE);
	const char *mode_what = o && o->mode ? "--overlay" : "annotation " OVERLAY_ANN_MODE;
	json_t *ov;

	plan->enabled = false;
	plan->priv = p;
	if (mode && parse_mode(mode, mode_what, &p->mode, err) < 0)
		return -1;
	if (collect_lowers(spec, o, p, err) < 0)
		return -1;
	if (p->lowers[0] == NULL) {
		if (o && (o->upper || o->mode))
			return ocr_fail(err, EINVAL, "%s needs at least one --layer",
					o->upper ? "--upper" : "--overlay");
		return 0;
	}
	p->dir = xasprintf("%s/" OVL_DIR, state_dir);
	if (check_path_chars(p->dir, "state directory", err) < 0)
		return -1;
	/* Recorded before anything is made, so a failed create cleans up. */
	ov = json_pack("{s:s, s:s, s:b}", "dir", p->dir, "mode", mode_names[p->mode], "ephemeral", upper == NULL);
	json_object_set_new(extra, "overlay", ov);
	if (mkdir_at(state_dirfd, OVL_DIR, 0700, err) < 0)
		return -1;
	if (upper != NULL) {
		const char *id = strrchr(state_dir, '/') ? strrchr(state_dir, '/') + 1 : state_dir;
		if (plan_upper(ctx, upper, id, p, ov, err) < 0)
			return -1;
	} else {
		if (mkdir_at(state_dirfd, OVL_DIR "/upper", 0755, err) < 0 ||
		    mkdir_at(state_dirfd, OVL_DIR "/work", 0700, err) < 0)
			return -1;
		p->upper = xasprintf("%s/upper", p->dir);
		p->work = xasprintf("%s/work", p->dir);
		json_object_set_new(ov, "work", json_string(p->work));
		warn_network_fs(ctx, p->upper);
	}
	if (mkdir_at(state_dirfd, OVL_DIR "/merged", 0755, err) < 0)
		return -1;
	plan->merged = xasprintf("%s/merged", p->dir);
	json_object_set_new(ov, "merged", json_string(plan->merged));
	plan->enabled = true;
	ocr_debug(&ctx->log, "layered rootfs: %zu layer(s), top `%s`, %s upper `%s`, overlay %s", strv_len(p->lowers),
		  p->lowers[0], upper ? "persistent" : "ephemeral", p->upper, mode_names[p->mode]);
	return 0;
}

void overlay_plan_clear(struct overlay_plan *plan)
{
	struct ovl_priv *p = plan->priv;

	if (p != NULL) {
		strv_free(p->lowers);
		free(p->upper);
		free(p->work);
		free(p->dir);
	}
	free(plan->merged);
	free(plan->priv);
	plan->merged = NULL;
	plan->priv = NULL;
	plan->enabled = false;
}

/* ---------------------------------------------------------------- mount */

static char *join_lowers(char *const *lowers)
{
	size_t len = 1;
	char *s, *q;

	for (char *const *l = lowers; *l; l++)
		len += strlen(*l) + 1;
	q = s = xmalloc(len);
	for (char *const *l = lowers; *l; l++)
		q += sprintf(q, "%s%s", l == lowers ? "" : ":", *l);
	*q = '\0';
	return s;
}

static char *mount_data(const struct ovl_priv *p, bool userxattr)
{
	cleanup_free char *lowers = join_lowers(p->lowers);

	return xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s", lowers, p->upper, p->work,
			 userxattr ? ",userxattr" : "");
}

static int mount_kernel(const struct overlay_plan *plan, const struct ovl_priv *p, struct ocr_error *err)
{
	cleanup_free char *data = mount_data(p, true);

	if (strlen(data) > OVL_MOUNT_DATA_MAX)
		return ocr_fail(err, E2BIG,
				"kernel overlayfs: the layer paths are longer than its %d-byte "
				"option limit (use --overlay=fuse or shorter paths)",
				OVL_MOUNT_DATA_MAX);
	if (mount("overlay", plan->merged, "overlay", 0, data) < 0)
		return ocr_fail_errno(err, "kernel overlayfs (userxattr) on `%s`", plan->merged);
	return 0;
}

/* The first line fuse-overlayfs wrote to its log, for an error message. */
static void fuse_log_line(int logfd, char *buf, size_t len)
{
	ssize_t n = pread(logfd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	for (char *line = buf; *line; line += strcspn(line, "\n") + 1) {
		/* fuse-overlayfs 1.10 warns about options it ignores */
		if (strncmp(line, "unknown argument ignored", 24) != 0) {
			memmove(buf, line, strlen(line) + 1);
			break;
		}
		if (line[strcspn(line, "\n")] == '\0') {
			buf[0] = '\0';
			break;
		}
	}
	buf[strcspn(buf, "\n")] = '\0';
}

/* Bind PATH (absolute) to the same path under ROOT, read-only with RO,
 * with what is mounted below it with REC. */
static int bind_into(const char *root, const char *path, bool ro, bool rec)
{
	cleanup_free char *dst = xasprintf("%s%s", root, path);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	struct ocr_error err = {0};

	if (mkdir_p(dst, 0755, &err) < 0)
		return -1;
	if (mount(path, dst, MOUNT_TYPE_NONE, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		return -1;
	if (ro && syscall(SYS_mount_setattr, AT_FDCWD, dst, AT_RECURSIVE, &attr, sizeof(attr)) < 0 &&
	    mount(NULL, dst, MOUNT_TYPE_NONE, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_locked_flags(path), NULL) < 0)
		return -1;
	return 0;
}

/* The daemon gets a mount namespace of its own whose root is a tmpfs
 * holding only what fuse-overlayfs needs: /usr and the /bin, /lib* links
 * for itself, its layers (read-only), the upper and work dirs, and a proc
 * of the container's pid namespace. It serves the FUSE mount the init
 * made through the fd alone. So the container's pivot_root cannot move the
 * daemon into its own mount (where it would wait on itself), and a
 * container process allowed to look into the daemon's /proc/PID/root or
 * its mount namespace (one with every capability) finds nothing of the
 * host there. */
static int fuse_root(const struct ovl_priv *p, const char *root, const char **ret_what)
{
	static const char *const top[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	cleanup_free char *updir = strrchr(p->upper, '/') == p->upper
					   ? xstrdup("/")
					   : xasprintf("%.*s", (int)(strrchr(p->upper, '/') - p->upper), p->upper);
	char target[PATH_MAX];

	*ret_what = root;
	if ((mkdir(root, 0700) < 0 && errno != EEXIST) || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", MOUNT_TYPE_NONE, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(top); i++) {
		cleanup_free char *host = xasprintf("/%s", top[i]);
		cleanup_free char *dst = xasprintf("%s/%s", root, top[i]);
		struct stat st;
		ssize_t n;

		*ret_what = host;
		if (lstat(host, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(host, target, sizeof(target) - 1);
			if (n < 0)
				return -1;
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				return -1;
		} else if (S_ISDIR(st.st_mode) && bind_into(root, host, true, true) < 0) {
			return -1;
		}
	}
	*ret_what = "/etc/ld.so.cache";
	if (access("/etc/ld.so.cache", R_OK) == 0) {
		cleanup_free char *etc = xasprintf("%s/etc", root);
		cleanup_free char *cache = xasprintf("%s/etc/ld.so.cache", root);
		int fd;
		if (mkdir(etc, 0755) < 0 || (fd = open(cache, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
			return -1;
		close(fd);
		if (mount("/etc/ld.so.cache", cache, MOUNT_TYPE_NONE, MS_BIND, NULL) < 0)
			return -1;
	}
	/* only with a pid namespace of our own; fuse-overlayfs does without */
	{
		cleanup_free char *proc = xasprintf("%s/proc", root);
		if (mkdir(proc, 0555) == 0)
			(void)mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	}
	for (char **l = p->lowers; *l; l++) {
		*ret_what = *l;
		if (bind_into(root, *l, true, true) < 0)
			return -1;
	}
	/* Upper and work must be one mount (fuse-overlayfs renames between
	 * them): their common directory, without what is mounted below. */
	*ret_what = updir;
	if (bind_into(root, updir, false, false) < 0)
		return -1;
	*ret_what = root;
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -1;
	return 0;
}

/* fusefd to 3, /dev/null to 0 and 1, logfd to 2, whatever numbers they
 * had (any may be 0..3 when the init's stdio is closed): every source is
 * moved above them first. */
static int fuse_stdio(int fusefd, int logfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int hnull = null < 0 ? -1 : fcntl(null, F_DUPFD_CLOEXEC, 10);
	int hfuse = fcntl(fusefd, F_DUPFD_CLOEXEC, 10);
	int hlog = fcntl(logfd, F_DUPFD_CLOEXEC, 10);

	if (hnull < 0 || hfuse < 0 || hlog < 0)
		return -1;
	if (dup2(hfuse, 3) < 0 || dup2(hnull, STDIN_FILENO) < 0 || dup2(hnull, STDOUT_FILENO) < 0 ||
	    dup2(hlog, STDERR_FILENO) < 0)
		return -1;
	return 0;
}

/* The program fuse-overlayfs, opened before the daemon enters its own
 * root, which holds only the system directories: a binary is exec'd
 * through the fd, so one installed anywhere on PATH (a static build in
 * ~/bin or /opt) runs too. */
struct fuse_prog {
	char path[PATH_MAX];
	bool script;
};

/* Returns the fd, close-on-exec. */
static int fuse_prog_open(struct fuse_prog *fp, struct ocr_error *err)
{
	char magic[2];
	int fd;

	if (!find_program("fuse-overlayfs", getenv("PATH"), fp->path, sizeof(fp->path)))
		return ocr_fail(err, ENOENT,
				"fuse-overlayfs is not installed (not found on PATH; Debian: apt install "
				"fuse-overlayfs)");
	fd = open(fp->path, O_RDONLY | O_CLOEXEC);
	/* execute-only: exec needs no read access, only the #! check does */
	if (fd < 0 && errno == EACCES)
		fd = open(fp->path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return ocr_fail_errno(err, "fuse-overlayfs `%s`", fp->path);
	fp->script = pread(fd, magic, sizeof(magic), 0) == sizeof(magic) && memcmp(magic, "#!", 2) == 0;
	return fd;
}

/* In the daemon's root, with the log as stderr. A script goes by its path:
 * through a close-on-exec fd its interpreter would need /dev/fd/N, which
 * that root lacks. */
__attribute__((noreturn)) static void fuse_exec(const struct fuse_prog *fp, int fd, char *const argv[])
{
	if (fp->script)
		execv(fp->path, argv);
	else
		fexecve(fd, argv, environ);
	if (fp->script)
		dprintf(STDERR_FILENO,
			"exec: %s (a script, which runs only from /usr, /bin, /sbin or /lib*, all the "
			"daemon's root holds: put the fuse-overlayfs binary on PATH; a static build runs "
			"from any directory)\n",
			strerror(errno));
	else if (errno == ENOENT)
		dprintf(STDERR_FILENO,
			"exec: %s (its dynamic loader is not in /usr, /bin, /sbin or /lib*, all the daemon's "
			"root holds: use a static fuse-overlayfs build)\n",
			strerror(errno));
	else
		dprintf(STDERR_FILENO, "exec: %s\n", strerror(errno));
	_exit(127);
}

__attribute__((noreturn)) static void fuse_child(const struct fuse_prog *fp, int fd, char *const argv[],
						 const struct ovl_priv *p, int fusefd, int logfd, pid_t parent)
{
	const char *what = NULL;
	char *root;
	/* above the numbers fuse_stdio takes, whatever number it had */
	int progfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	/* Dies with the process that becomes the container's user process
	 * (also without a pid namespace of its own). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent || progfd < 0 || fuse_stdio(fusefd, logfd) < 0 || dup3(progfd, 4, O_CLOEXEC) < 0)
		_exit(127);
	root = xasprintf("%s/fuse-root", p->dir);
	if (fuse_root(p, root, &what) < 0) {
		dprintf(STDERR_FILENO, "its own root `%s`: `%s`: %s\n", root, what, strerror(errno));
		_exit(127);
	}
	reset_signals();
	close_fds_from(5, false);
	fuse_exec(fp, 4, argv);
}

/* A child that looks at the mount: it returns once the daemon answers. */
static pid_t fuse_probe(const char *merged)
{
	pid_t pid = fork();
	struct stat st;

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(stat(merged, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : 1);
	}
	return pid;
}

static int fuse_open_dev(struct ocr_error *err)
{
	struct stat st;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return ocr_fail_errno(err, "fuse-overlayfs: /dev/fuse is missing (in a nested container, pass the "
					   "host's /dev/fuse in)");
	if (errno == EACCES || errno == EPERM) {
		int mode = stat("/dev/fuse", &st) == 0 ? (int)(st.st_mode & 07777) : -1;
		return ocr_fail(err, EACCES,
				"fuse-overlayfs: /dev/fuse is not accessible to you (mode %04o): as root, "
				"`chmod 0666 /dev/fuse` (distributions ship it 0666 through udev)",
				mode);
	}
	return ocr_fail_errno(err, "fuse-overlayfs: open /dev/fuse");
}

/* The dynamic loader's complaint (glibc's, musl's) about a library the
 * daemon's root does not hold. */
static bool loader_failed(const char *msg)
{
	return strstr(msg, "error while loading shared libraries") != NULL ||
	       strstr(msg, "Error loading shared library") != NULL;
}

/* Wait (bounded) for the probe to see the mount or the daemon to die. */
static int fuse_wait(const char *prog, pid_t daemon, pid_t probe, int logfd, struct ocr_error *err)
{
	char msg[512];
	int status, waited = 0, step = 1;

	for (;;) {
		struct timespec ts = {0, step * 1000000L};
		if (TEMP_FAILURE_RETRY(waitpid(daemon, &status, WNOHANG)) == daemon) {
			fuse_log_line(logfd, msg, sizeof(msg));
			return ocr_fail(err, EIO, "fuse-overlayfs `%s` %s %d%s%s%s", prog,
					WIFEXITED(status) ? "exited with status" : "was killed by signal",
					WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), msg[0] ? ": " : "",
					msg,
					loader_failed(msg) ? " (its daemon sees only the libraries in /usr and /lib*: "
							     "use a static fuse-overlayfs build)"
							   : "");
		}
		if (TEMP_FAILURE_RETRY(waitpid(probe, &status, WNOHANG)) == probe) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			return ocr_fail(err, EIO, "fuse-overlayfs: the mount does not answer");
		}
		if (waited >= OVERLAY_FUSE_TIMEOUT_MS)
			return ocr_fail(err, ETIMEDOUT, "fuse-overlayfs did not answer within %d ms",
					OVERLAY_FUSE_TIMEOUT_MS);
		nanosleep(&ts, NULL);
		waited += step;
		step = step < 32 ? step * 2 : step;
	}
}

/* We mount the FUSE filesystem ourselves and hand its /dev/fuse fd to
 * fuse-overlayfs (libfuse's "/dev/fd/N" mount point), so the mount is made
 * where the init sees it whatever root the daemon has. The daemon runs in
 * the container's user, mount and pid namespaces, so it dies with them.
 * Its ids are the container's own (the mapping is the identity inside the
 * namespace), so it gets no uidmapping/gidmapping options. */
static int mount_fuse(const struct overlay_plan *plan, const struct ovl_priv *p, struct fuse_prog *ret_prog,
		      struct ocr_error *err)
{
	cleanup_close int progfd = -1;
	cleanup_free char *data = mount_data(p, false);
	cleanup_free char *logpath = xasprintf("%s/" OVL_FUSE_LOG, p->dir);
	cleanup_free char *mopts = NULL;
	cleanup_close int logfd = -1;
	cleanup_close int fusefd = -1;
	char *argv[] = {"fuse-overlayfs", "-f", "-o", data, "/dev/fd/3", NULL};
	pid_t self = getpid(), daemon, probe;
	int rc;

	progfd = fuse_prog_open(ret_prog, err);
	if (progfd < 0)
		return -1;
	fusefd = fuse_open_dev(err);
	if (fusefd < 0)
		return -1;
	logfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (logfd < 0)
		return ocr_fail_errno(err, "fuse-overlayfs log `%s`", logpath);
	mopts = xasprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fusefd);
	if (mount("fuse-overlayfs", plan->merged, "fuse.fuse-overlayfs", MS_NODEV | MS_NOATIME, mopts) < 0)
		return ocr_fail_errno(err, "fuse-overlayfs: mount FUSE on `%s`", plan->merged);
	daemon = fork();
	if (daemon < 0) {
		rc = ocr_fail_errno(err, "fork fuse-overlayfs");
		goto fail;
	}
	if (daemon == 0)
		fuse_child(ret_prog, progfd, argv, p, fusefd, logfd, self);
	probe = fuse_probe(plan->merged);
	if (probe < 0) {
		rc = ocr_fail_errno(err, "fork");
		kill(daemon, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(daemon, NULL, 0));
		goto fail;
	}
	rc = fuse_wait(ret_prog->path, daemon, probe, logfd, err);
	if (rc == 0)
		return 0;
	kill(probe, SIGKILL);
	kill(daemon, SIGKILL);
	TEMP_FAILURE_RETRY(waitpid(probe, NULL, 0));
	TEMP_FAILURE_RETRY(waitpid(daemon, NULL, 0));
fail:
	umount2(plan->merged, MNT_DETACH);
	return rc;
}

static int write_driver(const struct ovl_priv *p, const char *driver, struct ocr_error *err)
{
	cleanup_free char *path = xasprintf("%s/" OVL_DRIVER_FILE, p->dir);
	cleanup_free char *line = xasprintf("%s\n", driver);
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, line, strlen(line)) < 0)
		return ocr_fail_errno(err, "write `%s`", path);
	if (close(steal_fd(&fd)) < 0)
		return ocr_fail_errno(err, "write `%s`", path);
	return 0;
}

int overlay_mount(const struct overlay_plan *plan, const struct ocr_log *log, struct ocr_error *err)
{
	const struct ovl_priv *p = plan->priv;
	struct ocr_error kerr = {0};
	const char *driver = "kernel";
	char kmsg[OCR_ERROR_MSG_MAX + 128] = "";
	struct fuse_prog prog = {.path = ""};

	if (!plan->enabled)
		return 0;
	/* Our mounts must not propagate to a peer outside (rootfs_prepare
	 * sets the final propagation). */
	if (mount(NULL, "/", MOUNT_TYPE_NONE, MS_SLAVE | MS_REC, NULL) < 0)
		return ocr_fail_errno(err, "make / slave");
	if (p->mode != OVL_FUSE) {
		if (mount_kernel(plan, p, &kerr) == 0)
			goto mounted;
		if (p->mode == OVL_KERNEL) {
			*err = kerr;
			return -1;
		}
		ocr_error_format(&kerr, kmsg, sizeof(kmsg));
		ocr_debug(log, "layered rootfs: %s; trying fuse-overlayfs", kmsg);
	}
	driver = "fuse";
	if (mount_fuse(plan, p, &prog, err) < 0) {
		if (p->mode == OVL_AUTO)
			ocr_wrap(err, "%s; then", kmsg);
		return -1;
	}
mounted:
	ocr_debug(log, "layered rootfs: mounted `%s` with %s%s%s%s", plan->merged,
		  strcmp(driver, "kernel") == 0 ? "kernel overlayfs (userxattr)" : "fuse-overlayfs",
		  prog.path[0] ? " `" : "", prog.path, prog.path[0] ? "`" : "");
	return write_driver(p, driver, err);
}

/* ------------------------------------------------------------- state note */

int overlay_state_note(int state_dirfd, json_t *extra, json_t *annotations)
{
	json_t *ov = json_object_get(extra, "overlay");
	cleanup_free char *data = NULL;
	struct ocr_error ignored;
	size_t len;

	if (!json_is_object(ov))
		return 0;
	if (read_file_at(state_dirfd, OVL_DIR "/" OVL_DRIVER_FILE, 64, &data, &len, &ignored) < 0)
		return 0;
	data[strcspn(data, "\n")] = '\0';
	if (strcmp(data, "kernel") != 0 && strcmp(data, "fuse") != 0)
		return 0;
	json_object_set_new(ov, "driver", json_string(data));
	if (annotations)
		json_object_set_new(annotations, OVERLAY_ANN_DRIVER, json_string(data));
	return 0;
}

/* --------------------------------------------------------------- cleanup */

static int remove_children(int fd, dev_t dev, int depth, struct ocr_error *err);

static int remove_entry(int dirfd, const char *name, dev_t dev, int depth, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ocr_fail_errno(err, "stat `%s`", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return ocr_fail_errno(err, "unlink `%s`", name);
		return 0;
	}
	if (dev != 0 && st.st_dev != dev)
		return ocr_fail(err, EBUSY, "`%s` is a mount point", name);
	if (depth > OVL_REMOVE_DEPTH)
		return ocr_fail(err, ELOOP, "`%s`: directories nested too deep", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : ocr_fail_errno(err, "open `%s`", name);
	/* Removing entries needs write access to the directory. */
	if ((st.st_mode & 0300) != 0300)
		(void)fchmod(fd, (st.st_mode & 07777) | 0700);
	if (remove_children(fd, st.st_dev, depth + 1, err) < 0)
		return ocr_wrap(err, "`%s`", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return ocr_fail_errno(err, "rmdir `%s`", name);
	return 0;
}

static int remove_children(int fd, dev_t dev, int depth, struct ocr_error *err)
{
	int dfd = dup(fd);
	cleanup_dir DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (dfd >= 0)
			close(dfd);
		return ocr_fail_errno(err, "read directory");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_entry(fd, de->d_name, dev, depth, err) < 0)
			return -1;
	}
	if (errno != 0)
		return ocr_fail_errno(err, "read directory");
	return 0;
}

int overlay_remove_tree(int dirfd, const char *name, struct ocr_error *err)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ocr_fail_errno(err, "stat `%s`", name);
	return remove_entry(dirfd, name, st.st_dev, 0, err);
}

struct remove_args {
	const char *paths[3];
};

static int remove_paths(void *arg, struct ocr_error *err)
{
	const struct remove_args *a = arg;

	for (size_t i = 0; i < ARRAY_SIZE(a->paths); i++)
		if (a->paths[i] && overlay_remove_tree(AT_FDCWD, a->paths[i], err) < 0)
			return -1;
	return 0;
}

/* A container's fuse-overlayfs dies with its pid namespace, or with its
 * parent without one; a leftover (the container's init killed before it
 * exec'd, a runtime killed mid-create) is found by its work dir, which is
 * unique to the container, on its command line. */
static void kill_fuse(const char *work)
{
	cleanup_free char *needle = xasprintf("workdir=%s", work);
	size_t nlen = strlen(needle);
	cleanup_dir DIR *d = opendir("/proc");
	pid_t found[64];
	size_t n = 0;
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL && n < ARRAY_SIZE(found)) {
		char path[64], buf[16384];
		cleanup_close int fd = -1;
		struct stat st;
		uint64_t pid;
		ssize_t len;
		bool match = false;

		if (parse_u64(de->d_name, &pid) < 0 || pid > INT_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid())
			continue;
		len = read_all(fd, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strstr(buf, "fuse-overlayfs") == NULL)
			continue;
		/* an argument "...,workdir=WORK" or "...,workdir=WORK,..." */
		for (const char *a = buf; a < buf + len; a += strlen(a) + 1) {
			const char *hit = strstr(a, needle);
			if (hit && (hit == a || hit[-1] == ',') && (hit[nlen] == '\0' || hit[nlen] == ','))
				match = true;
		}
		if (match && kill((pid_t)pid, SIGKILL) == 0)
			found[n++] = (pid_t)pid;
	}
	for (int i = 0; i < 200 && n > 0; i++) {
		struct timespec ts = {0, 10000000L};
		size_t alive = 0;
		for (size_t j = 0; j < n; j++)
			if (kill(found[j], 0) == 0)
				alive++;
		if (alive == 0)
			break;
		nanosleep(&ts, NULL);
	}
}

int overlay_cleanup(const struct ocr_ctx *ctx, int state_dirfd, json_t *extra, struct ocr_error *err)
{
	json_t *ov = json_object_get(extra, "overlay");
	const char *dir = json_string_value(json_object_get(ov, "dir"));
	const char *merged = json_string_value(json_object_get(ov, "merged"));
	const char *work = json_string_value(json_object_get(ov, "work"));
	struct remove_args args = {{NULL, NULL, NULL}};
	struct idmap_plan *plan = NULL;
	int rc;

	(void)state_dirfd;
	if (!json_is_object(ov) || dir == NULL)
		return 0;
	if (work)
		kill_fuse(work);
	/* Only mounted here if the runtime ran in the container's mount
	 * namespace; never the case for our own containers. */
	if (merged)
		(void)umount2(merged, MNT_DETACH);
	args.paths[0] = dir;
	if (work && !path_within(work, dir))
		args.paths[1] = work;
	if (remove_paths(&args, err) == 0)
		return 0;
	/* Files the container made under other ids: remove them as root of a
	 * user namespace with our subordinate ids. */
	if (err->err != EACCES && err->err != EPERM)
		return ocr_wrap(err, "remove the layered rootfs's directories");
	ocr_error_clear(err);
	plan = xcalloc(1, sizeof(*plan));
	rc = overlay_userns_plan(ctx, true, plan, err);
	if (rc == 0)
		rc = overlay_userns_run(ctx, plan, remove_paths, &args, err);
	free(plan);
	if (rc < 0)
		return ocr_wrap(err, "remove the layered rootfs's directories");
	return 0;
}

/* ------------------------------------------------- user namespace helper */

int overlay_userns_plan(const struct ocr_ctx *ctx, bool quiet, struct idmap_plan *ret_plan, struct ocr_error *err)
{
	static const char cfg[] = "{\"ociVersion\": \"1.0.2\", \"linux\": {\"namespaces\": [{\"type\": \"user\"}]}}";
	struct ocr_ctx q = *ctx;
	struct spec *spec = NULL;
	int rc;

	memset(ret_plan, 0, sizeof(*ret_plan));
	if (ctx->euid == 0 || !ctx->initial_userns)
		return 0;
	if (quiet) {
		q.log.to_stderr = false;
		q.log.fd = -1;
	}
	if (spec_parse(cfg, sizeof(cfg) - 1, "default user namespace", &spec, err) < 0)
		return -1;
	rc = idmap_plan_build(&q, spec, ret_plan, err);
	spec_free(spec);
	return rc;
}

enum { USERNS_UNSHARED = 'u', USERNS_GO = 'g', USERNS_ERROR = 'E' };

__attribute__((noreturn)) static void userns_child(int in, int out, overlay_userns_fn fn, void *arg)
{
	struct ocr_error cerr = {0};
	char c = USERNS_ERROR;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWUSER) < 0) {
		ocr_fail_errno(&cerr, "create a user namespace");
		goto fail;
	}
	c = USERNS_UNSHARED;
	if (write_all(out, &c, 1) < 0 || read_all(in, &c, 1) != 1 || c != USERNS_GO)
		_exit(1);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		ocr_fail_errno(&cerr, "become root in the user namespace");
		goto fail;
	}
	if (fn(arg, &cerr) == 0)
		_exit(0);
fail:
	c = USERNS_ERROR;
	if (write_all(out, &c, 1) == 0)
		(void)write_all(out, &cerr, sizeof(cerr));
	_exit(1);
}

/* One message from the child: its error, or EOF. Returns 1 on an error. */
static int userns_read_error(int in, struct ocr_error *err)
{
	char c;

	if (read_all(in, &c, 1) != 1)
		return 0;
	if (c == USERNS_ERROR && read_all(in, err, sizeof(*err)) == (ssize_t)sizeof(*err)) {
		err->msg[sizeof(err->msg) - 1] = '\0';
		return 1;
	}
	ocr_fail(err, EPROTO, "user namespace helper: unexpected message");
	return 1;
}

int overlay_userns_run(const struct ocr_ctx *ctx, const struct idmap_plan *plan, overlay_userns_fn fn, void *arg,
		       struct ocr_error *err)
{
	int to_child[2], to_parent[2];
	cleanup_pid pid_t pid = 0;
	int status, rc = 0;
	char c;

	if (!plan->new_userns)
		return fn(arg, err);
	if (pipe2(to_child, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	if (pipe2(to_parent, O_CLOEXEC) < 0) {
		close(to_child[0]);
		close(to_child[1]);
		return ocr_fail_errno(err, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		userns_child(to_child[0], to_parent[1], fn, arg);
	}
	close(to_child[0]);
	close(to_parent[1]);
	if (pid < 0) {
		pid = 0;
		rc = ocr_fail_errno(err, "fork");
	} else if (read_all(to_parent[0], &c, 1) != 1 || c != USERNS_UNSHARED) {
		if (c != USERNS_ERROR || read_all(to_parent[0], err, sizeof(*err)) != (ssize_t)sizeof(*err))
			ocr_fail(err, EPROTO, "user namespace helper exited early");
		err->msg[sizeof(err->msg) - 1] = '\0';
		rc = -1;
	} else if (idmap_apply(ctx, pid, plan, err) < 0) {
		rc = -1;
	} else {
		c = USERNS_GO;
		if (write_all(to_child[1], &c, 1) < 0)
			rc = ocr_fail_errno(err, "user namespace helper");
		else if (userns_read_error(to_parent[0], err))
			rc = -1;
	}
	close(to_child[1]);
	close(to_parent[0]);
	if (pid > 0) {
		if (rc < 0)
			return -1; /* cleanup_pid kills and reaps */
		if (TEMP_FAILURE_RETRY(waitpid(pid, &status, 0)) < 0)
			return ocr_fail_errno(err, "wait for the user namespace helper");
		pid = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return ocr_fail(err, EIO, "user namespace helper failed (status %d)", status);
	}
	return rc;
}
