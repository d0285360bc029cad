/* The cgroupfs manager: a cgroup v2 directory below the cgroup the runtime
 * was started in (when that one is delegated to the user), and the file
 * operations every manager shares (freeze, kill, pids, stats, remove). */
#include "cgroup.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "cgroup-resources.h"
#include "utils.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_FILE_MAX (1u << 20)
#define CG_MAX_DEPTH 32
#define CG_MAX_PIDS (1u << 22)
#define FREEZE_TIMEOUT_MS 5000
#define REMOVE_TIMEOUT_MS 5000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One write(2) of VALUE to DIR/FILE (cgroup files take a value per
 * write); -1 with errno on failure. */
static int write_cg(const char *dir, const char *file, const char *value)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = TEMP_FAILURE_RETRY(open(path, O_WRONLY | O_CLOEXEC));
	size_t len = strlen(value);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = TEMP_FAILURE_RETRY(write(fd, value, len));
	if (w < 0)
		return -1;
	if ((size_t)w != len) {
		errno = EIO;
		return -1;
	}
	if (close(steal_fd(&fd)) < 0)
		return -1;
	return 0;
}

/* DIR/FILE's content, NULL (errno set) when it cannot be read. */
static char *read_cg(const char *dir, const char *file)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	struct ocr_error ignored;
	char *data = NULL;

	if (read_file_at(AT_FDCWD, path, CG_FILE_MAX, &data, NULL, &ignored) < 0) {
		errno = ignored.err;
		return NULL;
	}
	return data;
}

/* ---- where cgroup v2 is ------------------------------------------------ */

/* mountinfo escapes blanks as \040 etc. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int cgroup_fs_mount(char **ret, bool *ret_unified, struct ocr_error *err)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	struct statfs sf;
	size_t cap = 0;

	*ret_unified = false;
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
		*ret_unified = true;
		*ret = xstrdup("/sys/fs/cgroup");
		return 0;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return ocr_fail_errno(err, "open /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char *fields[5], *sep = strstr(line, " - "), *save = NULL, *tok;
		size_t n = 0;
		if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 5; tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		if (n < 5)
			continue;
		unescape_octal(fields[4]);
		*ret = xstrdup(fields[4]);
		return 0;
	}
	return ocr_fail(err, ENOENT, "no cgroup v2 file system is mounted");
}

int cgroup_fs_pid_dir(pid_t pid, char **ret, struct ocr_error *err)
{
	cleanup_free char *file = pid > 0 ? xasprintf("/proc/%d/cgroup", (int)pid) : xstrdup("/proc/self/cgroup");
	cleanup_free char *data = NULL;
	cleanup_free char *mnt = NULL;
	bool unified;
	char *line, *save = NULL;

	if (read_file_at(AT_FDCWD, file, CG_FILE_MAX, &data, NULL, err) < 0)
		return -1;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (cgroup_fs_mount(&mnt, &unified, err) < 0)
			return -1;
		/* The runtime's own cgroup may have gone while we read. */
		if (strstr(line, " (deleted)"))
			*strstr(line, " (deleted)") = '\0';
		*ret = strcmp(line + 3, "/") == 0 ? xstrdup(mnt) : xasprintf("%s%s", mnt, line + 3);
		return 0;
	}
	return ocr_fail(err, ENOENT, "`%s` has no cgroup v2 entry (0::)", file);
}

static char *parent_dir(const char *dir)
{
	char *p = xstrdup(dir);
	char *slash = strrchr(p, '/');

	if (slash && slash != p)
		*slash = '\0';
	return p;
}

static const char *base_name(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	return slash ? slash + 1 : dir;
}

static bool dir_writable(const char *dir)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);

	return access(dir, W_OK) == 0 && access(procs, W_OK) == 0;
}

bool cgroup_fs_own_writable(char **ret_base)
{
	struct ocr_error ignored;
	cleanup_free char *own = NULL;
	char *base;

	if (cgroup_fs_pid_dir(0, &own, &ignored) < 0)
		return false;
	/* An earlier invocation moved us into the leaf: its parent is the
	 * subtree we were given. */
	base = strcmp(base_name(own), CGROUP_LEAF_NAME) == 0 ? parent_dir(own) : xstrdup(own);
	if (!dir_writable(base)) {
		free(base);
		return false;
	}
	*ret_base = base;
	return true;
}

unsigned cgroup_fs_controllers(const char *dir)
{
	cleanup_free char *data = read_cg(dir, "cgroup.controllers");

	return data ? cg_controllers_parse(data) : 0;
}

/* ---- pids ---------------------------------------------------------------- */

static int parse_procs(const char *data, pid_t **pids, size_t *n)
{
	const char *p = data;

	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0) {
			if (*n >= CG_MAX_PIDS)
				return -1;
			*pids = xrealloc(*pids, (*n + 1) * sizeof(**pids));
			(*pids)[(*n)++] = (pid_t)v;
		}
		p = end + strspn(end, "\n ");
	}
	return 0;
}

static int collect_pids(const char *dir, int depth, pid_t **pids, size_t *n, struct ocr_error *err)
{
	cleanup_free char *data = read_cg(dir, "cgroup.procs");
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (data == NULL) {
		if (depth > 0 && errno == ENOENT)
			return 0; /* a sub-cgroup went away meanwhile */
		return ocr_fail_errno(err, "read `%s/cgroup.procs`", dir);
	}
	if (parse_procs(data, pids, n) < 0)
		return ocr_fail(err, E2BIG, "`%s`: more than %u processes", dir, CG_MAX_PIDS);
	if (depth >= CG_MAX_DEPTH)
		return 0;
	d = opendir(dir);
	while (d && (de = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		if (collect_pids(sub, depth + 1, pids, n, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_fs_pids_dir(const char *dir, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (collect_pids(dir, 0, &pids, &n, err) < 0) {
		free(pids);
		return -1;
	}
	*ret = pids;
	*ret_n = n;
	return 0;
}

/* ---- placing processes, enabling controllers ----------------------------- */

int cgroup_fs_enter_dir(const char *dir, pid_t pid, struct ocr_error *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	/* EINVAL: a task still being forked (TASK_NEW); runc retries too. */
	for (int i = 0;; i++) {
		if (write_cg(dir, "cgroup.procs", buf) == 0)
			return 0;
		if (errno != EINVAL || i >= 5)
			return ocr_fail_errno(err, "move process %d into cgroup `%s`", (int)pid, dir);
		sleep_ms(30);
	}
}

/* "No internal processes": a cgroup that hands controllers to its
 * children may not hold processes itself. Move the ones in DIR (the
 * runtime, and whoever else shares its cgroup) to DIR/ocirt-leaf. */
static int move_to_leaf(const char *dir, struct ocr_error *err)
{
	cleanup_free char *leaf = xasprintf("%s/" CGROUP_LEAF_NAME, dir);

	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return ocr_fail_errno(err, "create `%s`", leaf);
	for (int round = 0; round < 10; round++) {
		cleanup_free char *data = read_cg(dir, "cgroup.procs");
		cleanup_free pid_t *pids = NULL;
		size_t n = 0;
		if (data == NULL)
			return ocr_fail_errno(err, "read `%s/cgroup.procs`", dir);
		if (parse_procs(data, &pids, &n) < 0 || n == 0)
			return 0;
		for (size_t i = 0; i < n; i++) {
			char buf[32];
			snprintf(buf, sizeof(buf), "%d", (int)pids[i]);
			if (write_cg(leaf, "cgroup.procs", buf) < 0 && errno != ESRCH && errno != EINVAL)
				return ocr_fail_errno(
					err,
					"move process %d from `%s` to `%s` (a cgroup that delegates controllers "
					"must not hold processes)",
					(int)pids[i], dir, leaf);
		}
	}
	return ocr_fail(err, EBUSY, "processes keep appearing in `%s`; cannot empty it to enable controllers", dir);
}

static bool has_procs(const char *dir)
{
	cleanup_free char *data = read_cg(dir, "cgroup.procs");

	return data != NULL && data[strspn(data, " \n")] != '\0';
}

/* Enable WANT (as far as offered) in LEVEL/cgroup.subtree_control. */
static int enable_at(const char *level, bool is_root, unsigned want, struct ocr_error *err)
{
	cleanup_free char *active = read_cg(level, "cgroup.subtree_control");
	unsigned todo = want & cgroup_fs_controllers(level) & ~(active ? cg_controllers_parse(active) : 0);

	if (todo == 0)
		return 0;
	if (!is_root && has_procs(level) && move_to_leaf(level, err) < 0)
		return -1;
	for (unsigned bit = 1; bit <= CG_MISC; bit <<= 1) {
		char buf[32];
		if (!(todo & bit))
			continue;
		snprintf(buf, sizeof(buf), "+%s", cg_controller_name(bit));
		if (write_cg(level, "cgroup.subtree_control", buf) < 0)
			return ocr_fail_errno(err, "enable controller `%s` in `%s/cgroup.subtree_control`",
					      cg_controller_name(bit), level);
	}
	return 0;
}

/* Enable WANT on every level from START (a prefix of TARGET) down to
 * TARGET's parent. */
static int enable_controllers(const char *mnt, const char *start, const char *target, unsigned want,
			      struct ocr_error *err)
{
	size_t pos = strlen(start), len = strlen(target);

	if (want == 0 || !str_has_prefix(target, start))
		return 0;
	while (pos < len && target[pos] == '/') {
		cleanup_free char *level = xasprintf("%.*s", (int)pos, target);
		const char *next = strchr(target + pos + 1, '/');
		if (enable_at(level, strcmp(level, mnt) == 0, want, err) < 0)
			return -1;
		pos = next ? (size_t)(next - target) : len;
	}
	return 0;
}

static void strv_push(char ***v, char *s)
{
	size_t n = strv_len(*v);

	*v = xrealloc(*v, (n + 2) * sizeof(**v));
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

int cgroup_fs_apply(struct ocr_cgroup *cg, const char *dir, const struct cg_plan *plan, struct ocr_error *err)
{
	unsigned avail;

	if (plan == NULL || plan->n_writes == 0)
		return 0;
	avail = cgroup_fs_controllers(dir);
	for (size_t i = 0; i < plan->n_writes; i++) {
		const struct cg_write *w = &plan->writes[i];
		if (w->controller != 0 && !(avail & w->controller)) {
			cg->missing |= w->controller;
			continue;
		}
		if (write_cg(dir, w->file, w->value) == 0)
			continue;
		if (errno == ENOENT) {
			strv_push(&cg->unapplied, xasprintf("%s (no %s)", w->field, w->file));
			continue;
		}
		return ocr_fail_errno(err, "%s: write `%s` to `%s/%s`", w->field, w->value, dir, w->file);
	}
	return 0;
}

int cgroup_fs_update_plan(const char *dir, const struct spec_resources *r, struct cg_plan *ret, struct ocr_error *err)
{
	cleanup_free char *memory_max = read_cg(dir, "memory.max");
	cleanup_free char *cpu_max = read_cg(dir, "cpu.max");
	struct cg_current cur = {.memory_max = memory_max, .cpu_max = cpu_max};

	if (r->memory.check_before_update && r->memory.limit.set && r->memory.limit.v > 0) {
		cleanup_free char *usage = read_cg(dir, "memory.current");
		uint64_t u;
		if (usage && (usage[strcspn(usage, "\n")] = '\0', parse_u64(usage, &u) == 0) &&
		    u > (uint64_t)r->memory.limit.v)
			return ocr_fail(err, EBUSY,
					"linux.resources.memory.limit: %" PRId64 " is below the current usage %" PRIu64
					" (memory.checkBeforeUpdate is set)",
					r->memory.limit.v, u);
	}
	return cg_plan_build(r, &cur, ret, err);
}

/* ---- freeze, kill, remove ------------------------------------------------ */

/* Wait until cgroup.events says "frozen WANT" (bounded). */
static int wait_frozen(const char *dir, bool want, int timeout_ms)
{
	cleanup_free char *path = xasprintf("%s/cgroup.events", dir);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	long long deadline = now_ms() + timeout_ms;

	if (fd < 0)
		return -1;
	for (;;) {
		char buf[512], *f;
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		struct pollfd p = {.fd = fd, .events = POLLPRI};
		long long left;
		if (n < 0)
			return -1;
		buf[n] = '\0';
		f = strstr(buf, "frozen ");
		if (f && (f[7] == '1') == want)
			return 0;
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		/* kernfs wakes POLLPRI on changes; the cap covers a missed one. */
		poll(&p, 1, (int)(left < 100 ? left : 100));
	}
}

int cgroup_fs_freeze_dir(const char *dir, bool frozen, struct ocr_error *err)
{
	if (write_cg(dir, "cgroup.freeze", frozen ? "1" : "0") < 0) {
		if (errno == ENOENT)
			return ocr_fail(err, ENOTSUP,
					"`%s/cgroup.freeze` does not exist (the cgroup v2 freezer needs Linux 5.2)",
					dir);
		return ocr_fail_errno(err, "write `%s/cgroup.freeze`", dir);
	}
	if (wait_frozen(dir, frozen, FREEZE_TIMEOUT_MS) < 0) {
		int saved = errno;
		if (frozen)
			write_cg(dir, "cgroup.freeze", "0");
		errno = saved;
		return ocr_fail_errno(err, "%s `%s`: cgroup.events did not report frozen %d within %d s",
				      frozen ? "freeze" : "thaw", dir, frozen, FREEZE_TIMEOUT_MS / 1000);
	}
	return 0;
}

int cgroup_fs_kill_dir(const char *dir, int sig, struct ocr_error *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;

	if (sig == SIGKILL) {
		if (write_cg(dir, "cgroup.kill", "1") == 0)
			return 0;
		if (errno != ENOENT)
			return ocr_fail_errno(err, "write `%s/cgroup.kill`", dir);
		/* Before Linux 5.14: signal every process we find. */
	}
	if (cgroup_fs_pids_dir(dir, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return ocr_fail_errno(err, "kill %d (cgroup `%s`)", (int)pids[i], dir);
	return 0;
}

/* rmdir DIR after the cgroups below it; -1 with errno. */
static int rmdir_tree(const char *dir, int depth)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return -1;
	while (depth < CG_MAX_DEPTH && (de = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		if (rmdir_tree(sub, depth + 1) < 0 && errno != ENOENT)
			return -1;
	}
	return rmdir(dir);
}

int cgroup_fs_remove_dir(const char *dir, struct ocr_error *err)
{
	long long deadline = now_ms() + REMOVE_TIMEOUT_MS;
	struct ocr_error ignored;

	for (;;) {
		if (rmdir_tree(dir, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return ocr_fail_errno(err, "remove cgroup `%s`", dir);
		/* Still populated: thaw (a frozen task dies only when it runs)
		 * and kill what is left. */
		write_cg(dir, "cgroup.freeze", "0");
		cgroup_fs_kill_dir(dir, SIGKILL, &ignored);
		if (now_ms() > deadline)
			return ocr_fail(err, EBUSY, "remove cgroup `%s`: it still has processes after %d s", dir,
					REMOVE_TIMEOUT_MS / 1000);
		sleep_ms(20);
	}
}

/* ---- stats (the shape of runc's `events --stats`) ------------------------ */

/* "key value" lines of DIR/FILE into an object of integers. */
static json_t *read_flat_keyed(const char *dir, const char *file)
{
	cleanup_free char *data = read_cg(dir, file);
	json_t *o = json_object();
	char *line, *save = NULL;

	if (data == NULL)
		return o;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[128];
		unsigned long long v;
		if (sscanf(line, "%127s %llu", key, &v) == 2)
			json_object_set_new(o, key, json_integer((json_int_t)v));
	}
	return o;
}

static json_int_t key_value(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A single number, or "max" (as runc: the largest uint64 for memory,
 * 0 for pids). */
static json_int_t read_number(const char *dir, const char *file, json_int_t max_as)
{
	cleanup_free char *data = read_cg(dir, file);
	uint64_t v;

	if (data == NULL)
		return 0;
	data[strcspn(data, "\n")] = '\0';
	if (strcmp(data, "max") == 0)
		return max_as;
	return parse_u64(data, &v) == 0 ? (json_int_t)v : 0;
}

static json_t *cpu_stats(const char *dir)
{
	json_t *s = read_flat_keyed(dir, "cpu.stat");
	json_t *o = json_pack("{s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}}", "usage", "total", key_value(s, "usage_usec") * 1000,
			      "kernel", key_value(s, "system_usec") * 1000, "user", key_value(s, "user_usec") * 1000,
			      "throttling", "periods", key_value(s, "nr_periods"), "throttledPeriods",
			      key_value(s, "nr_throttled"), "throttledTime", key_value(s, "throttled_usec") * 1000);
	json_decref(s);
	return o;
}

static json_t *memory_stats(const char *dir)
{
	json_t *raw = read_flat_keyed(dir, "memory.stat");
	json_t *events = read_flat_keyed(dir, "memory.events");
	json_int_t unlimited = (json_int_t)INT64_MAX;
	json_t *o =
		json_pack("{s:I,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I},s:o}", "cache", key_value(raw, "file"), "usage",
			  "limit", read_number(dir, "memory.max", unlimited), "usage",
			  read_number(dir, "memory.current", 0), "max", read_number(dir, "memory.peak", 0), "failcnt",
			  key_value(events, "max"), "swap", "limit", read_number(dir, "memory.swap.max", unlimited),
			  "usage", read_number(dir, "memory.swap.current", 0), "raw", raw);
	json_decref(events);
	return o;
}

static void io_entries(json_t *bytes, json_t *ios, const char *line)
{
	unsigned major, minor;
	const char *p;

	if (sscanf(line, "%u:%u", &major, &minor) != 2)
		return;
	for (p = strchr(line, ' '); p; p = strchr(p + 1, ' ')) {
		char key[32];
		unsigned long long v;
		json_t *arr;
		const char *op;
		if (sscanf(p + 1, "%31[a-z]=%llu", key, &v) != 2)
			continue;
		if (strcmp(key, "rbytes") == 0 || strcmp(key, "rios") == 0)
			op = "Read";
		else if (strcmp(key, "wbytes") == 0 || strcmp(key, "wios") == 0)
			op = "Write";
		else
			continue;
		arr = key[1] == 'b' ? bytes : ios;
		json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:I}", "major", (json_int_t)major, "minor",
						     (json_int_t)minor, "op", op, "value", (json_int_t)v));
	}
}

static json_t *io_stats(const char *dir)
{
	cleanup_free char *data = read_cg(dir, "io.stat");
	json_t *bytes = json_array(), *ios = json_array();
	char *line, *save = NULL;

	for (line = data ? strtok_r(data, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		io_entries(bytes, ios, line);
	return json_pack("{s:o,s:o}", "ioServiceBytesRecursive", bytes, "ioServicedRecursive", ios);
}

static json_t *hugetlb_stats(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	json_t *o = json_object();
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		char size[32], file[96];
		json_t *events;
		if (sscanf(de->d_name, "hugetlb.%31[0-9KMGTB].current", size) != 1)
			continue;
		snprintf(file, sizeof(file), "hugetlb.%s.events", size);
		events = read_flat_keyed(dir, file);
		snprintf(file, sizeof(file), "hugetlb.%s.max", size);
		json_object_set_new(o, size,
				    json_pack("{s:I,s:I,s:I}", "usage", read_number(dir, de->d_name, 0), "max",
					      read_number(dir, file, (json_int_t)INT64_MAX), "failcnt",
					      key_value(events, "max")));
		json_decref(events);
	}
	return o;
}

int cgroup_fs_stats_dir(const char *dir, json_t **ret, struct ocr_error *err)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return ocr_fail_errno(err, "cgroup `%s`", dir);
	*ret = json_pack("{s:o,s:o,s:{s:I,s:I},s:o,s:o}", "cpu", cpu_stats(dir), "memory", memory_stats(dir), "pids",
			 "current", read_number(dir, "pids.current", 0), "limit", read_number(dir, "pids.max", 0),
			 "blkio", io_stats(dir), "hugetlb", hugetlb_stats(dir));
	if (*ret == NULL)
		return ocr_fail(err, ENOMEM, "encode stats of `%s`", dir);
	return 0;
}

/* ---- the cgroupfs backend ------------------------------------------------ */

/* linux.cgroupsPath to a directory: absolute paths start at the cgroup v2
 * mount, relative ones (and the default, the container id) at BASE, the
 * subtree we were given. runc's "slice:prefix:name" becomes prefix-name. */
static int fs_target(const struct ocr_cgroup *cg, const char *mnt, const char *base, char **ret, struct ocr_error *err)
{
	const char *p = cg->cgroups_path;
	cleanup_free char *rel = NULL;

	if (p == NULL || p[0] == '\0') {
		rel = xstrdup(cg->id);
	} else if (strchr(p, ':') != NULL) {
		const char *c1 = strchr(p, ':'), *c2 = strchr(c1 + 1, ':');
		if (c2 == NULL || strchr(c2 + 1, ':') != NULL)
			return ocr_fail(err, EINVAL, "linux.cgroupsPath: `%s` is neither a path nor slice:prefix:name",
					p);
		rel = c2 - c1 - 1 > 0 ? xasprintf("%.*s-%s", (int)(c2 - c1 - 1), c1 + 1, c2 + 1) : xstrdup(c2 + 1);
		if (rel[0] == '\0' || strchr(rel, '/'))
			return ocr_fail(err, EINVAL, "linux.cgroupsPath: `%s`: bad name part", p);
	} else {
		rel = xstrdup(p);
	}
	while (strlen(rel) > 1 && rel[strlen(rel) - 1] == '/')
		rel[strlen(rel) - 1] = '\0';
	/* Every component a plain name: no "..", no ".", no empty one. */
	for (const char *c = rel + (rel[0] == '/'); *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return ocr_fail(err, EINVAL, "linux.cgroupsPath: `%s` must not contain `..`, `.` or `//`", p);
		c += n + (c[n] == '/');
	}
	if (rel[0] == '/')
		*ret = strcmp(rel, "/") == 0 ? xstrdup(mnt) : xasprintf("%s%s", mnt, rel);
	else
		*ret = xasprintf("%s/%s", base, rel);
	return 0;
}

/* mkdir every missing component of TARGET below the mount MNT. */
static int make_dirs(const char *mnt, const char *target, struct ocr_error *err)
{
	size_t pos = strlen(mnt), len = strlen(target);

	while (pos < len && target[pos] == '/') {
		const char *next = strchr(target + pos + 1, '/');
		size_t end = next ? (size_t)(next - target) : len;
		cleanup_free char *dir = xasprintf("%.*s", (int)end, target);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return ocr_fail_errno(err, "create cgroup `%s`", dir);
		pos = end;
	}
	return 0;
}

/* Where controllers must be enabled from: BASE for paths below it; for a
 * path elsewhere, the highest writable ancestor of TARGET. */
static char *enable_start(const char *mnt, const char *base, const char *target)
{
	char *start, *up;

	if (str_has_prefix(target, base) && target[strlen(base)] == '/')
		return xstrdup(base);
	start = parent_dir(target);
	while (strcmp(start, mnt) != 0) {
		cleanup_free char *ctl = NULL;
		up = parent_dir(start);
		ctl = xasprintf("%s/cgroup.subtree_control", up);
		if (access(ctl, W_OK) < 0) {
			free(up);
			break;
		}
		free(start);
		start = up;
	}
	return start;
}

static int fs_create(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	cleanup_free char *mnt = NULL;
	cleanup_free char *base = NULL;
	cleanup_free char *target = NULL;
	cleanup_free char *start = NULL;
	bool unified;

	if (cgroup_fs_mount(&mnt, &unified, err) < 0)
		return -1;
	if (!cgroup_fs_own_writable(&base)) {
		cleanup_free char *own = NULL;
		if (cgroup_fs_pid_dir(0, &own, err) < 0)
			return -1;
		return ocr_fail(err, EACCES, "our cgroup `%s` is not writable by uid %u (not delegated)", own,
				(unsigned)geteuid());
	}
	if (fs_target(cg, mnt, base, &target, err) < 0)
		return -1;
	if (!str_has_prefix(target, mnt) || strcmp(target, mnt) == 0 || strcmp(target, base) == 0)
		return ocr_fail(err, EINVAL, "linux.cgroupsPath: `%s` is not a cgroup of its own below `%s`", target,
				base);
	if (has_procs(target))
		return ocr_fail(err, EBUSY, "cgroup `%s` already has processes (another container?)", target);
	if (make_dirs(mnt, target, err) < 0)
		return -1;
	cg->path = xstrdup(target);
	if (cgroup_fs_enter_dir(target, pid, err) < 0)
		return -1;
	start = enable_start(mnt, base, target);
	if (cg->plan && enable_controllers(mnt, start, target, cg->plan->controllers, err) < 0)
		return -1;
	return cgroup_fs_apply(cg, target, cg->plan, err);
}

static int fs_enter(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	return cgroup_fs_enter_dir(cg->path, pid, err);
}

static int fs_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	struct cg_plan plan;
	int rc;

	if (cgroup_fs_update_plan(cg->path, r, &plan, err) < 0)
		return -1;
	rc = cgroup_fs_apply(cg, cg->path, &plan, err);
	cg_plan_clear(&plan);
	return rc;
}

static int fs_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err)
{
	return cgroup_fs_freeze_dir(cg->path, frozen, err);
}

static int fs_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err)
{
	return cgroup_fs_kill_dir(cg->path, sig, err);
}

static int fs_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	return cgroup_fs_pids_dir(cg->path, ret, ret_n, err);
}

static int fs_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err)
{
	return cgroup_fs_stats_dir(cg->path, ret, err);
}

static int fs_destroy(struct ocr_cgroup *cg, struct ocr_error *err)
{
	return cg->path ? cgroup_fs_remove_dir(cg->path, err) : 0;
}

const struct cgroup_backend cgroup_fs_backend = {
	.name = "cgroupfs",
	.create = fs_create,
	.enter = fs_enter,
	.update = fs_update,
	.freeze = fs_freeze,
	.kill = fs_kill,
	.pids = fs_pids,
	.stats = fs_stats,
	.destroy = fs_destroy,
};
