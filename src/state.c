#include "state.h"

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "utils.h"

int state_validate_id(const char *id, struct ocr_error *err)
{
	size_t len = id ? strlen(id) : 0;

	if (len == 0)
		return ocr_fail(err, EINVAL, "container id is empty");
	if (len > OCR_ID_MAX)
		return ocr_fail(err, EINVAL, "container id is longer than %d characters", OCR_ID_MAX);
	for (const char *p = id; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char shown[256];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '+' || c == '-' || c == '.')
			continue;
		if (c < 0x20 || c >= 0x7f)
			return ocr_fail(err, EINVAL,
					"invalid container id: byte 0x%02x (allowed: letters, digits, _ + - .)", c);
		str_escape(shown, sizeof(shown), id);
		return ocr_fail(err, EINVAL,
				"invalid container id `%s`: character `%c` (allowed: letters, digits, _ + - .)", shown,
				c);
	}
	/* Not ".", "..", nor anything `list` would skip as one of the state
	 * root's own entries (".creating.*"). */
	if (id[0] == '.')
		return ocr_fail(err, EINVAL, "invalid container id `%s`: it must not start with `.`", id);
	return 0;
}

int state_open_root(const struct ocr_ctx *ctx, bool create, struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	if (create && mkdir(ctx->root, 0700) < 0 && errno != EEXIST) {
		if (errno != ENOENT || mkdir_p(ctx->root, 0700, err) < 0)
			return ocr_fail_errno(err, "state root `%s`", ctx->root);
	}
	fd = open(ctx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ocr_fail_errno(err, "state root `%s`", ctx->root);
	if (fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "state root `%s`", ctx->root);
	/* Another user's directory (say a pre-made /tmp/ocirt-rootless-UID)
	 * could feed us forged state: refuse it. */
	if (st.st_uid != ctx->euid)
		return ocr_fail(err, EPERM, "state root `%s` is owned by uid %u, not by you (uid %u)", ctx->root,
				(unsigned)st.st_uid, (unsigned)ctx->euid);
	if (st.st_mode & 0022)
		return ocr_fail(err, EPERM, "state root `%s` is writable by others (mode %04o); use chmod 0700",
				ctx->root, (unsigned)(st.st_mode & 07777));
	return steal_fd(&fd);
}

static int lock_dir(int fd, const char *id, struct ocr_error *err)
{
	if (TEMP_FAILURE_RETRY(flock(fd, LOCK_EX)) < 0)
		return ocr_fail_errno(err, "lock container `%s`", id);
	return 0;
}

#define CREATING_PREFIX ".creating."

/* A runtime killed between making its .creating.PID.N directory and
 * renaming it leaves it behind, empty: remove those whose PID is gone. */
static void sweep_creating(int rootfd)
{
	cleanup_dir DIR *d = fdopendir(openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		long pid;

		if (!str_has_prefix(de->d_name, CREATING_PREFIX))
			continue;
		pid = strtol(de->d_name + strlen(CREATING_PREFIX), NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(rootfd, de->d_name, AT_REMOVEDIR);
	}
}

/* The directory appears under its id already locked: it is made and locked
 * under a private name, then renamed into place (failing if the id is
 * taken). So whoever else opens ROOT/ID waits until the creator has
 * written the state or removed the directory, and never sees a directory
 * without state.json that is still being set up. */
int state_create_dir(int rootfd, const char *id, struct ocr_error *err)
{
	static unsigned counter;
	cleanup_close int fd = -1;
	char tmp[64];

	if (faccessat(rootfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return ocr_fail(err, EEXIST, "container `%s` already exists", id);
	sweep_creating(rootfd);
	snprintf(tmp, sizeof(tmp), CREATING_PREFIX "%d.%u", (int)getpid(), counter++);
	if (mkdirat(rootfd, tmp, 0700) < 0)
		return ocr_fail_errno(err, "create state directory for `%s`", id);
	fd = openat(rootfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || lock_dir(fd, id, err) < 0) {
		if (fd < 0)
			ocr_fail_errno(err, "open state directory for `%s`", id);
		unlinkat(rootfd, tmp, AT_REMOVEDIR);
		return -1;
	}
	if (renameat2(rootfd, tmp, rootfd, id, RENAME_NOREPLACE) < 0) {
		int saved = errno;

		unlinkat(rootfd, tmp, AT_REMOVEDIR);
		errno = saved;
		if (errno == EEXIST)
			return ocr_fail(err, EEXIST, "container `%s` already exists", id);
		if (errno != EINVAL)
			return ocr_fail_errno(err, "create state directory for `%s`", id);
		/* No RENAME_NOREPLACE on this file system: mkdir, then lock. */
		close(steal_fd(&fd));
		if (mkdirat(rootfd, id, 0700) < 0) {
			if (errno == EEXIST)
				return ocr_fail(err, EEXIST, "container `%s` already exists", id);
			return ocr_fail_errno(err, "create state directory for `%s`", id);
		}
		fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return ocr_fail_errno(err, "open state directory for `%s`", id);
		if (lock_dir(fd, id, err) < 0)
			return -1;
	}
	return steal_fd(&fd);
}

int state_open_dir(int rootfd, const char *id, struct ocr_error *err)
{
	/* The holder of the lock we waited for may have deleted the
	 * container (and a new one may have taken the id): open again. */
	for (int attempt = 0; attempt < 100; attempt++) {
		cleanup_close int fd = -1;
		struct stat st;

		fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return ocr_fail(err, ENOENT, "container `%s` does not exist", id);
			return ocr_fail_errno(err, "open state of `%s`", id);
		}
		if (lock_dir(fd, id, err) < 0)
			return -1;
		if (fstat(fd, &st) < 0)
			return ocr_fail_errno(err, "open state of `%s`", id);
		if (st.st_nlink > 0)
			return steal_fd(&fd);
	}
	return ocr_fail(err, ENOENT, "container `%s` does not exist", id);
}

int state_open_dir_nowait(int rootfd, const char *id, bool *ret_busy, struct ocr_error *err)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		cleanup_close int fd = -1;
		struct stat st;

		*ret_busy = false;
		fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return ocr_fail(err, ENOENT, "container `%s` does not exist", id);
			return ocr_fail_errno(err, "open state of `%s`", id);
		}
		if (TEMP_FAILURE_RETRY(flock(fd, LOCK_SH | LOCK_NB)) < 0) {
			if (errno != EWOULDBLOCK)
				return ocr_fail_errno(err, "lock container `%s`", id);
			*ret_busy = true;
			return steal_fd(&fd);
		}
		if (fstat(fd, &st) < 0)
			return ocr_fail_errno(err, "open state of `%s`", id);
		if (st.st_nlink > 0)
			return steal_fd(&fd);
	}
	return ocr_fail(err, ENOENT, "container `%s` does not exist", id);
}

int state_record(int dirfd, const char *name, const char *value, struct ocr_error *err)
{
	char link[64];

	snprintf(link, sizeof(link), "%s.rec", name);
	if (strlen(value) >= PATH_MAX)
		return ocr_fail(err, ENAMETOOLONG, "record `%s` of %zu bytes is too long", link, strlen(value));
	if (symlinkat(value, dirfd, link) < 0)
		return ocr_fail_errno(err, "record `%s`", link);
	return 0;
}

int state_record_extra(int dirfd, const json_t *extra, const char *member, struct ocr_error *err)
{
	json_t *v = json_object_get(extra, member);
	cleanup_free char *s = NULL;

	if (v == NULL)
		return 0;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL)
		return ocr_fail(err, ENOMEM, "encode record `%s`", member);
	return state_record(dirfd, member, s, err);
}

/* The target of NAME.rec, or NULL. */
static char *read_record(int dirfd, const char *name)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s.rec", name);
	n = readlinkat(dirfd, link, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* The init recorded when it was made: its pid never changes, so this
 * write-once record wins over a state.json that says otherwise. */
static bool read_init_record(int dirfd, pid_t *ret_pid, unsigned long long *ret_start)
{
	cleanup_free char *s = read_record(dirfd, STATE_REC_INIT);
	unsigned long long start;
	int pid;

	if (s == NULL || sscanf(s, "%d %llu", &pid, &start) != 2 || pid <= 0)
		return false;
	*ret_pid = (pid_t)pid;
	*ret_start = start;
	return true;
}

void state_recover(int dirfd, const char *id, struct ocr_state *st)
{
	static const char *const members[] = {"cgroup", "network", "overlay"};
	struct stat sb;

	memset(st, 0, sizeof(*st));
	st->id = xstrdup(id);
	st->bundle = xstrdup("");
	st->rootfs = xstrdup("");
	st->created = xstrdup("");
	st->annotations = json_object();
	st->extra = json_object();
	read_init_record(dirfd, &st->pid, &st->pid_starttime);
	st->ready = st->started = true;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		cleanup_free char *s = read_record(dirfd, members[i]);
		json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
		if (v)
			json_object_set_new(st->extra, members[i], v);
	}
	st->owner = fstat(dirfd, &sb) == 0 ? sb.st_uid : (uid_t)-1;
}

/* JSON strings are UTF-8; a path that is not (Linux allows any bytes)
 * cannot be recorded, and json_pack would only say it failed. */
static int check_utf8(const char *what, const char *s, struct ocr_error *err)
{
	json_t *j = s != NULL ? json_string(s) : NULL;
	char shown[512];

	if (s == NULL || j != NULL) {
		json_decref(j);
		return 0;
	}
	str_escape(shown, sizeof(shown), s);
	return ocr_fail(err, EINVAL, "%s `%s` is not valid UTF-8, which the state file (JSON) cannot hold", what,
			shown);
}

int state_write(int dirfd, const struct ocr_state *st, struct ocr_error *err)
{
	cleanup_free char *path = xasprintf("/proc/self/fd/%d/" OCR_STATE_FILE, dirfd);
	cleanup_free char *data = NULL;
	json_t *o;

	if (check_utf8("bundle path", st->bundle, err) < 0 || check_utf8("rootfs path", st->rootfs, err) < 0)
		return -1;

	o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:b,s:b,s:b,s:o,s:o}", "id", st->id, "bundle", st->bundle, "rootfs",
		      st->rootfs, "created", st->created, "pid", (json_int_t)st->pid, "pid_starttime",
		      (json_int_t)st->pid_starttime, "ready", st->ready, "started", st->started, "has_poststart",
		      st->has_poststart, "has_poststop", st->has_poststop, "annotations",
		      st->annotations ? json_incref(st->annotations) : json_object(), "extra",
		      st->extra ? json_incref(st->extra) : json_object());
	if (o == NULL)
		return ocr_fail(err, ENOMEM, "encode state");
	data = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (data == NULL)
		return ocr_fail(err, ENOMEM, "encode state");
	if (write_file_atomic(path, data, strlen(data), 0600, err) < 0)
		return ocr_wrap(err, "save state of `%s`", st->id);
	return 0;
}

static char *dup_member(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return xstrdup(s ? s : "");
}

int state_read(int dirfd, const char *id, struct ocr_state *st, struct ocr_error *err)
{
	cleanup_free char *data = NULL;
	json_error_t jerr;
	json_t *o, *v;
	struct stat sb;
	size_t len;

	memset(st, 0, sizeof(*st));
	if (read_file_at(dirfd, OCR_STATE_FILE, OCR_STATE_MAX, &data, &len, err) < 0) {
		/* The directory is created locked and state.json written
		 * before the lock is let go: without one, its creator died. */
		if (err != NULL && err->err == ENOENT)
			return ocr_fail(err, EINVAL,
					"state of container `%s` is incomplete (its creation was "
					"interrupted); `delete --force %s` removes it",
					id, id);
		return ocr_wrap(err, "state of container `%s`", id);
	}
	o = json_loadb(data, len, 0, &jerr);
	if (o == NULL || !json_is_object(o)) {
		char why[sizeof(jerr.text) * 4];

		/* jansson quotes the file, which may hold anything. */
		str_escape(why, sizeof(why), o ? "not an object" : jerr.text);
		json_decref(o);
		return ocr_fail(err, EINVAL, "state of container `%s` is corrupt (%s); `delete --force %s` removes it",
				id, why, id);
	}
	v = json_object_get(o, "pid");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7fffffff ||
	    !json_is_string(json_object_get(o, "id"))) {
		json_decref(o);
		return ocr_fail(err, EINVAL, "state of container `%s` is corrupt; `delete --force %s` removes it", id,
				id);
	}
	st->id = dup_member(o, "id");
	st->bundle = dup_member(o, "bundle");
	st->rootfs = dup_member(o, "rootfs");
	st->created = dup_member(o, "created");
	st->pid = (pid_t)json_integer_value(v);
	st->pid_starttime = (unsigned long long)json_integer_value(json_object_get(o, "pid_starttime"));
	st->ready = json_is_true(json_object_get(o, "ready"));
	st->started = json_is_true(json_object_get(o, "started"));
	st->has_poststart = json_is_true(json_object_get(o, "has_poststart"));
	st->has_poststop = json_is_true(json_object_get(o, "has_poststop"));
	v = json_object_get(o, "annotations");
	st->annotations = json_is_object(v) ? json_incref(v) : json_object();
	v = json_object_get(o, "extra");
	st->extra = json_is_object(v) ? json_incref(v) : json_object();
	st->owner = fstat(dirfd, &sb) == 0 ? sb.st_uid : (uid_t)-1;
	json_decref(o);
	read_init_record(dirfd, &st->pid, &st->pid_starttime);
	if (strcmp(st->id, id) != 0) {
		state_clear(st);
		return ocr_fail(err, EINVAL, "state of container `%s` names another id; `delete --force %s` removes it",
				id, id);
	}
	return 0;
}

void state_clear(struct ocr_state *st)
{
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	json_decref(st->annotations);
	json_decref(st->extra);
	memset(st, 0, sizeof(*st));
}

enum ocr_status state_status(const struct ocr_state *st)
{
	unsigned long long start;
	char pstate;

	if (st->pid <= 0)
		return st->ready ? OCR_STATUS_STOPPED : OCR_STATUS_CREATING;
	if (proc_stat(st->pid, &start, &pstate) < 0 || start != st->pid_starttime || pstate == 'Z' || pstate == 'X')
		return OCR_STATUS_STOPPED;
	if (!st->ready)
		return OCR_STATUS_CREATING;
	if (json_is_true(json_object_get(st->extra, "paused")))
		return OCR_STATUS_PAUSED;
	return st->started ? OCR_STATUS_RUNNING : OCR_STATUS_CREATED;
}

const char *state_status_name(enum ocr_status s)
{
	switch (s) {
	case OCR_STATUS_CREATING:
		return "creating";
	case OCR_STATUS_CREATED:
		return "created";
	case OCR_STATUS_RUNNING:
		return "running";
	case OCR_STATUS_PAUSED:
		return "paused";
	case OCR_STATUS_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

char *state_owner_name(const struct ocr_state *st)
{
	struct passwd *pw = getpwuid(st->owner);

	return pw ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)st->owner);
}

char *state_oci_json(const struct ocr_state *st, enum ocr_status status, bool pretty)
{
	cleanup_free char *owner = state_owner_name(st);
	json_t *o;
	char *s;

	o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:o,s:s,s:s}", "ociVersion", OCR_OCI_VERSION, "id", st->id, "status",
		      state_status_name(status), "pid", (json_int_t)(status == OCR_STATUS_STOPPED ? 0 : st->pid),
		      "bundle", st->bundle, "rootfs", st->rootfs, "annotations",
		      st->annotations ? json_incref(st->annotations) : json_object(), "created", st->created, "owner",
		      owner);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	json_decref(o);
	return s;
}

char *state_spec_json(const struct ocr_state *st, enum ocr_status status)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:o}", "ociVersion", OCR_OCI_VERSION, "id", st->id, "status",
			      state_status_name(status), "pid",
			      (json_int_t)(status == OCR_STATUS_STOPPED ? 0 : st->pid), "bundle", st->bundle,
			      "annotations", st->annotations ? json_incref(st->annotations) : json_object());
	char *s;

	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int state_remove_dir(int rootfd, const char *id, struct ocr_error *err)
{
	if (rm_rf_at(rootfd, id, err) < 0)
		return ocr_wrap(err, "remove state of `%s`", id);
	return 0;
}
