/* The systemd manager: a transient `.scope` with Delegate=yes holding the
 * container, started over D-Bus on the user's manager (the system manager
 * for real root), then the cgroupfs file operations on the scope's cgroup.
 *
 * D-Bus goes through libsystemd's sd-bus, loaded with dlopen() only when
 * this manager is used: the normal start path links no D-Bus library at
 * all, and libsystemd.so.0 is present wherever a systemd manager runs. The
 * few sd-bus prototypes are declared here, so building needs no
 * libsystemd-dev. */
#include "cgroup.h"

#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "cgroup-resources.h"
#include "utils.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_IFACE "org.freedesktop.systemd1.Manager"
#define CALL_TIMEOUT_USEC (25ull * 1000000)
#define JOB_TIMEOUT_USEC (30ull * 1000000)

/* sd-bus ABI (stable since systemd 221). */
typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
typedef struct sd_bus_slot sd_bus_slot;
typedef struct {
	const char *name;
	const char *message;
	int need_free;
} sd_bus_error;
typedef int (*sd_bus_handler)(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

struct sdbus {
	void *handle;
	sd_bus *bus;
	int (*open_user)(sd_bus **);
	int (*open_system)(sd_bus **);
	sd_bus *(*flush_close_unref)(sd_bus *);
	int (*new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *, const char *);
	int (*append)(sd_bus_message *, const char *, ...);
	int (*append_array)(sd_bus_message *, char, const void *, size_t);
	int (*open_container)(sd_bus_message *, char, const char *);
	int (*close_container)(sd_bus_message *);
	int (*call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
	int (*read)(sd_bus_message *, const char *, ...);
	sd_bus_message *(*message_unref)(sd_bus_message *);
	int (*add_match)(sd_bus *, sd_bus_slot **, const char *, sd_bus_handler, void *);
	sd_bus_slot *(*slot_unref)(sd_bus_slot *);
	int (*process)(sd_bus *, sd_bus_message **);
	int (*wait)(sd_bus *, uint64_t);
	void (*error_free)(sd_bus_error *);
};

static const struct {
	const char *name;
	size_t offset;
} sdbus_symbols[] = {
#define SYM(n, f)                            \
	{                                    \
		n, offsetof(struct sdbus, f) \
	}
	SYM("sd_bus_open_user", open_user),
	SYM("sd_bus_open_system", open_system),
	SYM("sd_bus_flush_close_unref", flush_close_unref),
	SYM("sd_bus_message_new_method_call", new_method_call),
	SYM("sd_bus_message_append", append),
	SYM("sd_bus_message_append_array", append_array),
	SYM("sd_bus_message_open_container", open_container),
	SYM("sd_bus_message_close_container", close_container),
	SYM("sd_bus_call", call),
	SYM("sd_bus_message_read", read),
	SYM("sd_bus_message_unref", message_unref),
	SYM("sd_bus_add_match", add_match),
	SYM("sd_bus_slot_unref", slot_unref),
	SYM("sd_bus_process", process),
	SYM("sd_bus_wait", wait),
	SYM("sd_bus_error_free", error_free),
#undef SYM
};

static void sdbus_close(struct sdbus *b)
{
	if (b->bus)
		b->flush_close_unref(b->bus);
	if (b->handle)
		dlclose(b->handle);
	memset(b, 0, sizeof(*b));
}

static int sdbus_fail(struct ocr_error *err, int r, const char *what)
{
	errno = -r;
	return ocr_fail_errno(err, "%s", what);
}

/* Load libsystemd and connect: USER_BUS selects the user's manager. */
static int sdbus_open(struct sdbus *b, bool user_bus, struct ocr_error *err)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (b->handle == NULL)
		return ocr_fail(err, ENOENT,
				"systemd cgroup manager: cannot load libsystemd.so.0 (%s); install libsystemd0",
				dlerror());
	for (size_t i = 0; i < ARRAY_SIZE(sdbus_symbols); i++) {
		void *sym = dlsym(b->handle, sdbus_symbols[i].name);
		if (sym == NULL) {
			ocr_fail(err, ENOSYS, "systemd cgroup manager: libsystemd.so.0 has no %s",
				 sdbus_symbols[i].name);
			sdbus_close(b);
			return -1;
		}
		memcpy((char *)b + sdbus_symbols[i].offset, &sym, sizeof(sym));
	}
	r = user_bus ? b->open_user(&b->bus) : b->open_system(&b->bus);
	if (r < 0) {
		b->bus = NULL;
		sdbus_close(b);
		return sdbus_fail(err, r,
				  user_bus ? "connect to the user's systemd (D-Bus session bus)"
					   : "connect to systemd (D-Bus system bus)");
	}
	return 0;
}

/* An sd-bus error as one line: "message (org.freedesktop....)". */
static int bus_error(struct ocr_error *err, sd_bus_error *e, int r, const char *what)
{
	if (e->message)
		ocr_fail(err, EIO, "%s: %s (%s)", what, e->message, e->name ? e->name : "?");
	else
		sdbus_fail(err, r, what);
	return -1;
}

static bool error_is(const sd_bus_error *e, const char *name)
{
	return e->name && strcmp(e->name, name) == 0;
}

/* ---- jobs ---------------------------------------------------------------- */

struct job_wait {
	struct sdbus *b;
	char *path; /* the job we wait for */
	char *result; /* JobRemoved's result once seen */
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct job_wait *w = userdata;
	const char *path = NULL, *unit = NULL, *result = NULL;
	uint32_t id;

	(void)ret_error;
	if (w->b->read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (w->path && path && strcmp(path, w->path) == 0 && w->result == NULL)
		w->result = xstrdup(result ? result : "");
	return 0;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Run METHOD's reply's job to its end (bounded); "done" is success. */
static int job_finish(struct sdbus *b, struct job_wait *w, sd_bus_message *reply, const char *what,
		      struct ocr_error *err)
{
	const char *job = NULL;
	uint64_t deadline = mono_usec() + JOB_TIMEOUT_USEC;
	int r;

	r = b->read(reply, "o", &job);
	if (r < 0)
		return sdbus_fail(err, r, what);
	w->path = xstrdup(job);
	while (w->result == NULL) {
		uint64_t now = mono_usec();
		r = b->process(b->bus, NULL);
		if (r < 0)
			return sdbus_fail(err, r, what);
		if (r > 0)
			continue;
		if (now >= deadline)
			return ocr_fail(err, ETIMEDOUT, "%s: systemd job %s did not finish within %llu s", what, job,
					JOB_TIMEOUT_USEC / 1000000);
		r = b->wait(b->bus, deadline - now);
		if (r < 0)
			return sdbus_fail(err, r, what);
	}
	if (strcmp(w->result, "done") != 0)
		return ocr_fail(err, EIO, "%s: systemd job finished with result `%s` (see journalctl)", what,
				w->result);
	return 0;
}

static void job_wait_clear(struct job_wait *w)
{
	free(w->path);
	free(w->result);
}

static int new_call(struct sdbus *b, sd_bus_message **m, const char *member, struct ocr_error *err)
{
	int r = b->new_method_call(b->bus, m, SD_DEST, SD_PATH, SD_IFACE, member);

	return r < 0 ? sdbus_fail(err, r, member) : 0;
}

/* Subscribe to JobRemoved before starting a job (systemd only emits job
 * signals once some client subscribed). */
static int watch_jobs(struct sdbus *b, struct job_wait *w, sd_bus_slot **slot, struct ocr_error *err)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = {NULL, NULL, 0};
	int r;

	w->b = b;
	r = b->add_match(b->bus, slot,
			 "type='signal',sender='" SD_DEST "',path='" SD_PATH "',interface='" SD_IFACE
			 "',member='JobRemoved'",
			 on_job_removed, w);
	if (r < 0)
		return sdbus_fail(err, r, "watch systemd jobs");
	if (new_call(b, &m, "Subscribe", err) < 0)
		return -1;
	b->call(b->bus, m, CALL_TIMEOUT_USEC, &e, &reply); /* "already subscribed" is fine */
	b->error_free(&e);
	b->message_unref(m);
	if (reply)
		b->message_unref(reply);
	return 0;
}

/* ---- unit names ----------------------------------------------------------- */

struct scope_name {
	char *slice, *unit;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && strcmp(s + a - b, suffix) == 0;
}

/* linux.cgroupsPath in runc's systemd form "slice:prefix:name"; empty
 * parts take the defaults (user.slice for a user's manager, system.slice
 * for root; prefix "ocirt"; name the container id). */
static int parse_scope_name(const struct ocr_cgroup *cg, bool user_bus, struct scope_name *ret, struct ocr_error *err)
{
	const char *p = cg->cgroups_path ? cg->cgroups_path : "";
	const char *c1 = strchr(p, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	cleanup_free char *slice = NULL;
	cleanup_free char *prefix = NULL;
	cleanup_free char *name = NULL;

	if (p[0] != '\0' && (c2 == NULL || strchr(c2 + 1, ':') != NULL))
		return ocr_fail(
			err, EINVAL,
			"linux.cgroupsPath: `%s` is not of the form slice:prefix:name, which the systemd cgroup "
			"manager needs (or use --cgroup-manager cgroupfs)",
			p);
	if (p[0] != '\0') {
		slice = xasprintf("%.*s", (int)(c1 - p), p);
		prefix = xasprintf("%.*s", (int)(c2 - c1 - 1), c1 + 1);
		name = xstrdup(c2 + 1);
	}
	if (slice == NULL || slice[0] == '\0') {
		free(slice);
		slice = xstrdup(user_bus ? "user.slice" : "system.slice");
	}
	if (prefix == NULL) /* an empty prefix given is kept empty */
		prefix = xstrdup("ocirt");
	if (name == NULL || name[0] == '\0') {
		free(name);
		name = xstrdup(cg->id);
	}
	if (strchr(slice, '/') || strchr(name, '/') || strchr(prefix, '/') || !ends_with(slice, ".slice"))
		return ocr_fail(err, EINVAL,
				"linux.cgroupsPath: `%s`: the slice must end in .slice, and no part may hold `/`", p);
	ret->slice = steal_pointer(&slice);
	if (ends_with(name, ".scope"))
		ret->unit = steal_pointer(&name);
	else
		ret->unit = prefix[0] ? xasprintf("%s-%s.scope", prefix, name) : xasprintf("%s.scope", name);
	return 0;
}

/* ---- messages -------------------------------------------------------------- */

static int append_properties(struct sdbus *b, sd_bus_message *m, const struct cg_property *props, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		if (props[i].type == 't') {
			r = b->append(m, "(sv)", props[i].name, "t", props[i].u);
			continue;
		}
		if ((r = b->open_container(m, 'r', "sv")) < 0 || (r = b->append(m, "s", props[i].name)) < 0 ||
		    (r = b->open_container(m, 'v', "ay")) < 0 ||
		    (r = b->append_array(m, 'y', props[i].bytes, props[i].n_bytes)) < 0 ||
		    (r = b->close_container(m)) < 0)
			break;
		r = b->close_container(m);
	}
	return r;
}

static int start_scope(struct sdbus *b, const struct scope_name *sn, const char *id, pid_t pid,
		       const struct cg_property *props, size_t n_props, sd_bus_error *e, struct ocr_error *err)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_slot *slot = NULL;
	struct job_wait w = {0};
	cleanup_free char *desc = xasprintf("ocirt-rootless container %s", id);
	cleanup_free char *what = xasprintf("start systemd scope `%s`", sn->unit);
	int r, rc = -1;

	if (watch_jobs(b, &w, &slot, err) < 0)
		goto out;
	if (new_call(b, &m, "StartTransientUnit", err) < 0)
		goto out;
	if ((r = b->append(m, "ss", sn->unit, "fail")) < 0 || (r = b->open_container(m, 'a', "(sv)")) < 0 ||
	    (r = b->append(m, "(sv)", "Description", "s", desc)) < 0 ||
	    (r = b->append(m, "(sv)", "Slice", "s", sn->slice)) < 0 ||
	    (r = b->append(m, "(sv)", "Delegate", "b", 1)) < 0 ||
	    (r = b->append(m, "(sv)", "DefaultDependencies", "b", 0)) < 0 ||
	    (r = b->append(m, "(sv)", "CollectMode", "s", "inactive-or-failed")) < 0 ||
	    (r = b->append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid)) < 0 ||
	    (r = append_properties(b, m, props, n_props)) < 0 || (r = b->close_container(m)) < 0 ||
	    (r = b->append(m, "a(sa(sv))", 0)) < 0) {
		sdbus_fail(err, r, what);
		goto out;
	}
	r = b->call(b->bus, m, CALL_TIMEOUT_USEC, e, &reply);
	if (r < 0) {
		bus_error(err, e, r, what);
		goto out;
	}
	rc = job_finish(b, &w, reply, what, err);
out:
	if (m)
		b->message_unref(m);
	if (reply)
		b->message_unref(reply);
	if (slot)
		b->slot_unref(slot);
	job_wait_clear(&w);
	return rc;
}

/* StopUnit and wait; a unit that is already gone is fine. */
static int stop_unit(struct sdbus *b, const char *unit, struct ocr_error *err)
{
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = {NULL, NULL, 0};
	sd_bus_slot *slot = NULL;
	struct job_wait w = {0};
	cleanup_free char *what = xasprintf("stop systemd scope `%s`", unit);
	int r, rc = -1;

	if (watch_jobs(b, &w, &slot, err) < 0 || new_call(b, &m, "StopUnit", err) < 0)
		goto out;
	if ((r = b->append(m, "ss", unit, "replace")) < 0) {
		sdbus_fail(err, r, what);
		goto out;
	}
	r = b->call(b->bus, m, CALL_TIMEOUT_USEC, &e, &reply);
	if (r < 0) {
		if (error_is(&e, "org.freedesktop.systemd1.NoSuchUnit"))
			rc = 0;
		else
			bus_error(err, &e, r, what);
		goto out;
	}
	rc = job_finish(b, &w, reply, what, err);
out:
	b->error_free(&e);
	if (m)
		b->message_unref(m);
	if (reply)
		b->message_unref(reply);
	if (slot)
		b->slot_unref(slot);
	job_wait_clear(&w);
	return rc;
}

/* A simple call "METHOD(SIG...)" without a job; NoSuchUnit is no error
 * when IGNORE_MISSING. */
static int simple_call(struct sdbus *b, const char *method, const char *unit, bool ignore_missing, sd_bus_message *m,
		       struct ocr_error *err)
{
	sd_bus_error e = {NULL, NULL, 0};
	sd_bus_message *reply = NULL;
	cleanup_free char *what = xasprintf("%s `%s`", method, unit);
	int r = b->call(b->bus, m, CALL_TIMEOUT_USEC, &e, &reply);

	if (r < 0 && !(ignore_missing && error_is(&e, "org.freedesktop.systemd1.NoSuchUnit")))
		bus_error(err, &e, r, what);
	else
		r = 0;
	b->error_free(&e);
	b->message_unref(m);
	if (reply)
		b->message_unref(reply);
	return r < 0 ? -1 : 0;
}

static int reset_failed(struct sdbus *b, const char *unit, struct ocr_error *err)
{
	sd_bus_message *m = NULL;

	if (new_call(b, &m, "ResetFailedUnit", err) < 0)
		return -1;
	if (b->append(m, "s", unit) < 0) {
		b->message_unref(m);
		return ocr_fail(err, EIO, "ResetFailedUnit");
	}
	return simple_call(b, "ResetFailedUnit", unit, true, m, err);
}

static int set_properties(struct sdbus *b, const char *unit, const struct cg_property *props, size_t n,
			  struct ocr_error *err)
{
	sd_bus_message *m = NULL;
	int r;

	if (n == 0)
		return 0;
	if (new_call(b, &m, "SetUnitProperties", err) < 0)
		return -1;
	if ((r = b->append(m, "sb", unit, 1)) < 0 || (r = b->open_container(m, 'a', "(sv)")) < 0 ||
	    (r = append_properties(b, m, props, n)) < 0 || (r = b->close_container(m)) < 0) {
		b->message_unref(m);
		return sdbus_fail(err, r, "SetUnitProperties");
	}
	return simple_call(b, "SetUnitProperties", unit, false, m, err);
}

static int attach_pid(struct sdbus *b, const char *unit, pid_t pid, struct ocr_error *err)
{
	sd_bus_message *m = NULL;
	int r;

	if (new_call(b, &m, "AttachProcessesToUnit", err) < 0)
		return -1;
	if ((r = b->append(m, "ssau", unit, "", 1, (uint32_t)pid)) < 0) {
		b->message_unref(m);
		return sdbus_fail(err, r, "AttachProcessesToUnit");
	}
	return simple_call(b, "AttachProcessesToUnit", unit, false, m, err);
}

/* ---- the backend ----------------------------------------------------------- */

static bool use_user_bus(const struct ocr_cgroup *cg)
{
	if (cg->bus)
		return strcmp(cg->bus, "system") != 0;
	return cg->ctx->euid != 0 || !cg->ctx->initial_userns;
}

static bool property_error(const sd_bus_error *e)
{
	return error_is(e, "org.freedesktop.DBus.Error.InvalidArgs") ||
	       error_is(e, "org.freedesktop.DBus.Error.PropertyReadOnly") ||
	       error_is(e, "org.freedesktop.DBus.Error.UnknownProperty");
}

static int sd_create(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	struct sdbus b;
	struct scope_name sn = {0};
	struct cg_property *props = NULL;
	size_t n_props = 0;
	sd_bus_error e = {NULL, NULL, 0};
	bool user_bus = use_user_bus(cg);
	int rc = -1;

	if (parse_scope_name(cg, user_bus, &sn, err) < 0)
		return -1;
	if (cg->plan && cg_plan_to_properties(cg->plan, &props, &n_props, err) < 0)
		goto out_names;
	if (sdbus_open(&b, user_bus, err) < 0)
		goto out_props;
	cg->bus = xstrdup(user_bus ? "user" : "system");
	cg->unit = xstrdup(sn.unit);
	rc = start_scope(&b, &sn, cg->id, pid, props, n_props, &e, err);
	if (rc < 0 && error_is(&e, "org.freedesktop.systemd1.UnitExists")) {
		/* A scope left from an earlier container with this id (the
		 * state dir is exclusive, so it is stale): replace it. */
		b.error_free(&e);
		stop_unit(&b, sn.unit, err);
		reset_failed(&b, sn.unit, err);
		rc = start_scope(&b, &sn, cg->id, pid, props, n_props, &e, err);
	}
	if (rc < 0 && property_error(&e)) {
		/* An older systemd without some property: start the bare scope;
		 * the files are written below anyway. */
		b.error_free(&e);
		rc = start_scope(&b, &sn, cg->id, pid, NULL, 0, &e, err);
	}
	b.error_free(&e);
	sdbus_close(&b);
	if (rc < 0)
		goto out_props;
	rc = -1;
	if (cgroup_fs_pid_dir(pid, &cg->path, err) < 0)
		goto out_props;
	/* As runc: the properties persist across daemon-reload, the files
	 * hold exact values and what systemd has no property for. */
	rc = cgroup_fs_apply(cg, cg->path, cg->plan, err);
out_props:
	cg_properties_free(props, n_props);
out_names:
	free(sn.slice);
	free(sn.unit);
	return rc;
}

static int sd_enter(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	struct sdbus b;
	int rc;

	if (cgroup_fs_enter_dir(cg->path, pid, err) == 0)
		return 0;
	if (err->err != EACCES && err->err != EPERM)
		return -1;
	/* Started outside the user's manager (su, a system service): only
	 * systemd may move PID across (it asks the system manager). */
	if (sdbus_open(&b, use_user_bus(cg), err) < 0)
		return -1;
	rc = attach_pid(&b, cg->unit, pid, err);
	sdbus_close(&b);
	return rc;
}

static int sd_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	struct cg_plan plan;
	struct cg_property *props = NULL;
	size_t n = 0;
	struct sdbus b;
	int rc = -1;

	if (cgroup_fs_update_plan(cg->path, r, &plan, err) < 0)
		return -1;
	if (cg_plan_to_properties(&plan, &props, &n, err) < 0)
		goto out;
	if (n > 0) {
		if (sdbus_open(&b, use_user_bus(cg), err) < 0)
			goto out;
		rc = set_properties(&b, cg->unit, props, n, err);
		sdbus_close(&b);
		if (rc < 0)
			goto out;
	}
	rc = cgroup_fs_apply(cg, cg->path, &plan, err);
out:
	cg_properties_free(props, n);
	cg_plan_clear(&plan);
	return rc;
}

static int sd_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err)
{
	return cgroup_fs_freeze_dir(cg->path, frozen, err);
}

static int sd_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err)
{
	return cgroup_fs_kill_dir(cg->path, sig, err);
}

static int sd_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	return cgroup_fs_pids_dir(cg->path, ret, ret_n, err);
}

static int sd_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err)
{
	return cgroup_fs_stats_dir(cg->path, ret, err);
}

static int sd_destroy(struct ocr_cgroup *cg, struct ocr_error *err)
{
	struct ocr_error ignored;
	struct sdbus b;
	int rc;

	if (cg->path)
		cgroup_fs_kill_dir(cg->path, SIGKILL, &ignored);
	if (cg->unit == NULL)
		return 0;
	/* Without the bus the scope still goes: systemd collects a scope
	 * once its cgroup is empty. */
	if (sdbus_open(&b, use_user_bus(cg), &ignored) < 0) {
		ocr_debug(&cg->ctx->log, "delete: %s; the emptied scope `%s` is left to systemd", ignored.msg,
			  cg->unit);
		return 0;
	}
	rc = stop_unit(&b, cg->unit, err);
	if (rc == 0)
		reset_failed(&b, cg->unit, &ignored);
	sdbus_close(&b);
	if (rc == 0 && cg->path)
		rc = cgroup_fs_remove_dir(cg->path, err);
	return rc;
}

const struct cgroup_backend cgroup_systemd_backend = {
	.name = "systemd",
	.create = sd_create,
	.enter = sd_enter,
	.update = sd_update,
	.freeze = sd_freeze,
	.kill = sd_kill,
	.pids = sd_pids,
	.stats = sd_stats,
	.destroy = sd_destroy,
};
