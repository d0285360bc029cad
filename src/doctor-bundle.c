#include "doctor-bundle.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "idmap.h"
#include "spec-schema.h"
#include "spec.h"
#include "utils.h"

/* Schema findings shown one by one; a config with more gets a count. */
#define SCHEMA_MAX_FINDINGS 50u

/* The runtime's defaults, from the config `spec --rootless` writes, so the
 * lists cannot drift from spec-default.c. */
struct defaults {
	json_t *root;
	json_t *caps; /* process.capabilities.bounding */
	json_t *masked; /* linux.maskedPaths */
};

static bool in_strings(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach (a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool in_strv(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], s) == 0)
			return true;
	return false;
}

static bool has_option(const struct spec_mount *m, const char *o)
{
	return in_strv(m->options, m->n_options, o);
}

static void check_caps(struct doctor_report *r, const struct spec *s, const struct defaults *d)
{
	const struct spec_caps *c = s->process ? s->process->caps : NULL;
	const struct {
		const char *name;
		char **v;
		size_t n;
	} sets[] = {
		{"bounding", c ? c->bounding : NULL, c ? c->n_bounding : 0},
		{"effective", c ? c->effective : NULL, c ? c->n_effective : 0},
		{"inheritable", c ? c->inheritable : NULL, c ? c->n_inheritable : 0},
		{"permitted", c ? c->permitted : NULL, c ? c->n_permitted : 0},
		{"ambient", c ? c->ambient : NULL, c ? c->n_ambient : 0},
	};
	size_t found = 0;

	for (size_t k = 0; k < ARRAY_SIZE(sets); k++)
		for (size_t i = 0; i < sets[k].n; i++) {
			const char *cap = sets[k].v[i];
			if (in_strings(d->caps, cap))
				continue;
			found++;
			doctor_add(r, "bundle.caps", DOCTOR_WARN,
				   "drop it unless the workload needs it (the default set is CAP_AUDIT_WRITE, "
				   "CAP_KILL, CAP_NET_BIND_SERVICE)",
				   "/process/capabilities/%s/%zu: %s is beyond the runtime's default capability set",
				   sets[k].name, i, cap);
		}
	if (found == 0)
		doctor_add(r, "bundle.caps", DOCTOR_OK, NULL,
			   "/process/capabilities: no capability beyond the default set");
}

static void check_seccomp(struct doctor_report *r, const struct spec *s)
{
	if (s->linux_ == NULL || s->linux_->seccomp == NULL)
		doctor_add(r, "bundle.seccomp", DOCTOR_WARN,
			   "add a seccomp profile to linux.seccomp (e.g. the one podman or docker uses)",
			   "/linux/seccomp: absent, every system call is allowed");
	else
		doctor_add(r, "bundle.seccomp", DOCTOR_OK, NULL, "/linux/seccomp: a filter is set");
}

static void check_nnp(struct doctor_report *r, const struct spec *s)
{
	if (s->process == NULL)
		return;
	if (!s->process->no_new_privileges)
		doctor_add(r, "bundle.nonewprivs", DOCTOR_WARN, "set process.noNewPrivileges to true",
			   "/process/noNewPrivileges: false, setuid binaries and file capabilities can raise "
			   "privileges in the container");
	else
		doctor_add(r, "bundle.nonewprivs", DOCTOR_OK, NULL, "/process/noNewPrivileges: true");
}

static void check_namespaces(struct doctor_report *r, const struct spec *s)
{
	static const char *const wanted[] = {"pid", "ipc", "uts", "mount", "network"};
	const struct spec_linux *lx = s->linux_;
	size_t found = 0;

	for (size_t k = 0; k < ARRAY_SIZE(wanted); k++) {
		int type = spec_namespace_type_from_name(wanted[k]);
		size_t i, n = lx ? lx->n_namespaces : 0;

		for (i = 0; i < n; i++)
			if (lx->namespaces[i].type == type)
				break;
		if (i == n) {
			char fix[128];
			snprintf(fix, sizeof(fix), "add {\"type\": \"%s\"} to linux.namespaces%s", wanted[k],
				 strcmp(wanted[k], "network") == 0 ? " (and --network slirp for connectivity)" : "");
			found++;
			doctor_add(r, "bundle.namespaces", DOCTOR_WARN, fix,
				   "/linux/namespaces: no %s namespace, the container shares the host's", wanted[k]);
			continue;
		}
		const char *p = lx->namespaces[i].path;
		if (p != NULL && (str_has_prefix(p, "/proc/1/") || strcmp(p, "/proc/self") == 0 ||
				  str_has_prefix(p, "/proc/self/") || str_has_prefix(p, "/proc/thread-self/"))) {
			found++;
			doctor_add(r, "bundle.namespaces", DOCTOR_WARN, "remove the path to get a new namespace",
				   "/linux/namespaces/%zu/path: joins `%s`, a host %s namespace", i, p, wanted[k]);
		}
	}
	if (found == 0)
		doctor_add(r, "bundle.namespaces", DOCTOR_OK, NULL,
			   "/linux/namespaces: own pid, ipc, uts, mount and network namespaces");
}

static void check_sys(struct doctor_report *r, const struct spec *s)
{
	const struct spec_linux *lx = s->linux_;
	bool proc = false;
	size_t bad = 0;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		if (m->type && strcmp(m->type, "proc") == 0)
			proc = true;
		if (strcmp(m->destination, "/sys") != 0 && strcmp(m->destination, "/sys/") != 0)
			continue;
		if (!has_option(m, "ro")) {
			bad++;
			doctor_add(r, "bundle.sys", DOCTOR_WARN, "add \"ro\" to the options of the /sys mount",
				   "/mounts/%zu: /sys is mounted writable", i);
		}
	}
	if (bad == 0)
		doctor_add(r, "bundle.sys", DOCTOR_OK, NULL, "/mounts: /sys is read-only or not mounted");
	if (proc && !(lx && (in_strv(lx->readonly_paths, lx->n_readonly_paths, "/proc/sys") ||
			     in_strv(lx->masked_paths, lx->n_masked_paths, "/proc/sys"))))
		doctor_add(r, "bundle.proc-sys", DOCTOR_WARN, "add \"/proc/sys\" to linux.readonlyPaths",
			   "/linux/readonlyPaths: /proc/sys is writable");
	else
		doctor_add(r, "bundle.proc-sys", DOCTOR_OK, NULL, "/linux/readonlyPaths: /proc/sys is read-only");
}

static void check_masked(struct doctor_report *r, const struct spec *s, const struct defaults *d)
{
	const struct spec_linux *lx = s->linux_;
	char missing[512] = "";
	size_t i, n = 0;
	json_t *v;

	json_array_foreach (d->masked, i, v) {
		const char *p = json_string_value(v);
		if (p == NULL || (lx && in_strv(lx->masked_paths, lx->n_masked_paths, p)))
			continue;
		size_t len = strlen(missing);
		snprintf(missing + len, sizeof(missing) - len, "%s%s", n ? ", " : "", p);
		n++;
	}
	if (n > 0)
		doctor_add(r, "bundle.masked", DOCTOR_WARN,
			   "add them to linux.maskedPaths (`spec --rootless` has them)",
			   "/linux/maskedPaths: %zu of the default masked paths missing: %s", n, missing);
	else
		doctor_add(r, "bundle.masked", DOCTOR_OK, NULL, "/linux/maskedPaths: every default masked path");
}

/* PATH without repeated or trailing slashes and "." components, into BUF. */
static void normalize(const char *path, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 1 < len;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		if (e - p == 1 && *p == '.') {
			p = e;
			continue;
		}
		if (e == p)
			break;
		o += (size_t)snprintf(buf + o, len - o, "/%.*s", (int)(e - p), p);
		if (o >= len)
			o = len - 1;
		p = e;
	}
	if (o == 0)
		snprintf(buf, len, "/");
}

/* The severity of bind-mounting host PATH (normalized), DOCTOR_OK when
 * it is not sensitive. */
static enum doctor_status sensitive(const char *path)
{
	static const char *const fail_paths[] = {"/", "/var/run/docker.sock", "/run/docker.sock"};
	static const char *const warn_paths[] = {"/etc", "/root", "/home",    "/proc",	  "/sys",
						 "/dev", "/boot", "/var/lib", "/var/run", "/run"};

	for (size_t i = 0; i < ARRAY_SIZE(fail_paths); i++)
		if (strcmp(path, fail_paths[i]) == 0)
			return DOCTOR_FAIL;
	if (strcmp(path, "/run/podman") == 0 || str_has_prefix(path, "/run/podman/") ||
	    strcmp(path, "/var/run/podman") == 0 || str_has_prefix(path, "/var/run/podman/"))
		return DOCTOR_FAIL;
	for (size_t i = 0; i < ARRAY_SIZE(warn_paths); i++)
		if (strcmp(path, warn_paths[i]) == 0)
			return DOCTOR_WARN;
	return DOCTOR_OK;
}

static void check_mounts(struct doctor_report *r, const struct spec *s)
{
	size_t found = 0;

	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		char norm[PATH_MAX], real[PATH_MAX];
		enum doctor_status st, st2 = DOCTOR_OK;

		if (m->source == NULL || m->source[0] != '/')
			continue;
		if (!(m->type == NULL || strcmp(m->type, "bind") == 0 || has_option(m, "bind") ||
		      has_option(m, "rbind")))
			continue;
		normalize(m->source, norm, sizeof(norm));
		st = sensitive(norm);
		if (realpath(m->source, real) != NULL)
			st2 = sensitive(real);
		if (st2 > st)
			st = st2;
		if (st == DOCTOR_OK)
			continue;
		/* The rootless default: the host's /sys, read-only, as runc does. */
		if (strcmp(norm, "/sys") == 0 && strcmp(m->destination, "/sys") == 0 && has_option(m, "ro"))
			continue;
		found++;
		doctor_add(r, "bundle.mounts", st,
			   st == DOCTOR_FAIL ? "remove this mount: it gives the container the host (or its container "
					       "engine, which is the same)"
					     : "bind only the files the container needs, read-only (\"ro\")",
			   "/mounts/%zu: bind mount of the host's `%s` at `%s`%s", i, m->source, m->destination,
			   has_option(m, "ro") ? " (read-only)" : "");
	}
	if (found == 0)
		doctor_add(r, "bundle.mounts", DOCTOR_OK, NULL, "/mounts: no bind mount of a sensitive host path");
}

/* The pointer of the first id that PLAN does not map, in the order
 * idmap_check_spec checks them. */
static void unmapped_pointer(const struct idmap_plan *plan, const struct spec *s, char *buf, size_t len)
{
	const struct spec_process *p = s->process;
	const struct spec_linux *lx = s->linux_;

#define MAPPED(m, n, id) ((id) <= UINT32_MAX && idmap_to_host((m), (n), (uint32_t)(id)) >= 0)
	snprintf(buf, len, "/");
	if (p && !MAPPED(plan->uid, plan->n_uid, (uint64_t)p->user.uid)) {
		snprintf(buf, len, "/process/user/uid");
		return;
	}
	if (p && !MAPPED(plan->gid, plan->n_gid, (uint64_t)p->user.gid)) {
		snprintf(buf, len, "/process/user/gid");
		return;
	}
	for (size_t i = 0; p && i < p->user.n_additional_gids; i++)
		if (!MAPPED(plan->gid, plan->n_gid, (uint64_t)p->user.additional_gids[i])) {
			snprintf(buf, len, "/process/user/additionalGids/%zu", i);
			return;
		}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		if (m->type && strcmp(m->type, "devpts") == 0)
			continue;
		for (size_t j = 0; j < m->n_options; j++) {
			const char *o = m->options[j];
			bool u = str_has_prefix(o, "uid="), g = str_has_prefix(o, "gid=");
			uint64_t v;
			if ((!u && !g) || parse_u64(o + 4, &v) < 0)
				continue;
			if (u ? !MAPPED(plan->uid, plan->n_uid, v) : !MAPPED(plan->gid, plan->n_gid, v)) {
				snprintf(buf, len, "/mounts/%zu/options/%zu", i, j);
				return;
			}
		}
	}
	for (size_t i = 0; lx && i < lx->n_devices; i++) {
		const struct spec_device *d = &lx->devices[i];
		if (d->uid.set && !MAPPED(plan->uid, plan->n_uid, d->uid.v)) {
			snprintf(buf, len, "/linux/devices/%zu/uid", i);
			return;
		}
		if (d->gid.set && !MAPPED(plan->gid, plan->n_gid, d->gid.v)) {
			snprintf(buf, len, "/linux/devices/%zu/gid", i);
			return;
		}
	}
#undef MAPPED
}

static void check_idmap(const struct ocr_ctx *ctx, struct doctor_report *r, const struct spec *s)
{
	struct idmap_plan *plan = xcalloc(1, sizeof(*plan));
	struct ocr_error e = {0};
	char msg[OCR_ERROR_MSG_MAX + 64], ptr[128];

	if (idmap_plan_build(ctx, s, plan, &e) < 0) {
		ocr_error_format(&e, msg, sizeof(msg));
		doctor_add(r, "bundle.idmap", DOCTOR_FAIL, "see `doctor` for the host's subordinate ids and helpers",
			   "/linux/uidMappings: no id map can be built: %s", msg);
	} else if (idmap_check_spec(plan, s, &e) < 0) {
		ocr_error_format(&e, msg, sizeof(msg));
		unmapped_pointer(plan, s, ptr, sizeof(ptr));
		doctor_add(
			r, "bundle.idmap", DOCTOR_FAIL,
			"use an id the map covers, or map it (linux.uidMappings/gidMappings, /etc/subuid, /etc/subgid)",
			"%s: %s", ptr, msg);
	} else {
		doctor_add(r, "bundle.idmap", DOCTOR_OK, NULL,
			   "/process/user: every uid and gid of the config is in the id map (%zu uid, %zu gid lines)",
			   plan->n_uid, plan->n_gid);
	}
	free(plan);
}

static void schema_report(void *data, const struct spec_schema_finding *f)
{
	struct doctor_report *r = data;
	char ptr[512], fix[160];

	/* Keys come from the file: escaped, a finding stays one line. */
	str_escape(ptr, sizeof(ptr), f->pointer);
	if (f->issue == SPEC_SCHEMA_TYPE) {
		doctor_add(r, "bundle.schema", DOCTOR_WARN,
			   "write the value runtime-spec defines there (other runtimes refuse this config)",
			   "%s: expected %s, got %s", ptr, f->expected, f->got);
	} else if (f->suggestion != NULL) {
		snprintf(fix, sizeof(fix), "rename it to \"%s\"", f->suggestion);
		doctor_add(r, "bundle.schema", DOCTOR_WARN, fix, "%s: unknown field (did you mean \"%s\"?)", ptr,
			   f->suggestion);
	} else {
		doctor_add(r, "bundle.schema", DOCTOR_WARN,
			   "remove it, or put data of your own in annotations: the runtime ignores it",
			   "%s: unknown field", ptr);
	}
}

/* Unknown fields and wrong types, by JSON pointer: warnings, since the
 * runtime runs such a config (it ignores what it does not know). */
static void check_schema(struct doctor_report *r, const char *buf, size_t len)
{
	struct ocr_error e = {0};
	size_t n = 0;

	if (spec_schema_check_buf(buf, len, SCHEMA_MAX_FINDINGS, schema_report, r, &n, &e) < 0)
		return; /* not JSON: bundle.config already says where */
	if (n > SCHEMA_MAX_FINDINGS)
		doctor_add(r, "bundle.schema", DOCTOR_WARN, "correct the fields above first",
			   "/: %zu more unknown fields or wrong types not shown", n - SCHEMA_MAX_FINDINGS);
	else if (n == 0)
		doctor_add(r, "bundle.schema", DOCTOR_OK, NULL,
			   "/: every field is one of runtime-spec's, with its type");
}

int doctor_bundle_run(const struct ocr_ctx *ctx, const char *bundle, struct doctor_report *r, struct ocr_error *err)
{
	cleanup_free char *buf = NULL;
	struct spec *s = NULL;
	struct ocr_error e = {0};
	struct defaults d = {0};
	char msg[OCR_ERROR_MSG_MAX + 64];
	size_t len = 0;
	char *def;

	/* Read here, apart from the parse, so that the schema walk also runs
	 * on a config the parser refuses (a misspelled required field is then
	 * explained). */
	if (spec_read_config(bundle, &buf, &len, &e) < 0 || spec_parse(buf, len, "config.json", &s, &e) < 0) {
		ocr_error_format(&e, msg, sizeof(msg));
		doctor_add(r, "bundle.config", DOCTOR_FAIL,
			   "correct config.json (or write a fresh one with `ocirt-rootless spec --rootless`)", "%s",
			   msg);
		if (buf != NULL)
			check_schema(r, buf, len);
		return 0;
	}
	def = spec_default_json(true, ctx->euid, ctx->egid);
	d.root = def ? json_loads(def, 0, NULL) : NULL;
	free(def);
	if (d.root == NULL) {
		spec_free(s);
		return ocr_fail(err, ENOMEM, "doctor: the default config");
	}
	d.caps = json_object_get(json_object_get(json_object_get(d.root, "process"), "capabilities"), "bounding");
	d.masked = json_object_get(json_object_get(d.root, "linux"), "maskedPaths");
	doctor_add(r, "bundle.config", DOCTOR_OK, NULL, "%s/config.json: loads (types and required fields)", bundle);
	check_schema(r, buf, len);
	check_caps(r, s, &d);
	check_seccomp(r, s);
	check_nnp(r, s);
	check_namespaces(r, s);
	check_sys(r, s);
	check_masked(r, s, &d);
	check_mounts(r, s);
	check_idmap(ctx, r, s);
	json_decref(d.root);
	spec_free(s);
	return 0;
}
