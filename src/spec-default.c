/* The config.json that `spec` writes: the structure of runc's example spec
 * (libcontainer/specconv/example.go), so users coming from runc find what
 * they know, with our hostname, a current ociVersion and a cgroup
 * namespace. The rootless variant applies runc's ToRootless() steps to the
 * same tables instead of keeping a second copy that could drift. */
#include "spec.h"

#include <jansson.h>
#include <string.h>

#include "utils.h"

struct default_mount {
	const char *destination, *type, *source;
	const char *options[8]; /* NULL-terminated; none: no "options" key */
};

static const struct default_mount default_mounts[] = {
	{"/proc", "proc", "proc", {NULL}},
	{"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k", NULL}},
	{"/dev/pts",
	 "devpts",
	 "devpts",
	 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL}},
	{"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL}},
	{"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev", NULL}},
	{"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro", NULL}},
	{"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro", NULL}},
};

/* Without its own network namespace a user namespace may not mount sysfs
 * (runc#3672): rootless bind-mounts the host's /sys instead, as runc does. */
static const struct default_mount rootless_sys = {
	"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro", NULL}};

static const char *const default_caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};

static const char *const default_env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
					  "TERM=xterm", NULL};

static const char *const default_masked[] = {"/proc/acpi",
					     "/proc/asound",
					     "/proc/kcore",
					     "/proc/keys",
					     "/proc/latency_stats",
					     "/proc/timer_list",
					     "/proc/timer_stats",
					     "/proc/sched_debug",
					     "/sys/firmware",
					     "/proc/scsi",
					     "/sys/devices/virtual/tpm",
					     NULL};

static const char *const default_readonly[] = {"/proc/bus",	      "/proc/fs", "/proc/irq", "/proc/sys",
					       "/proc/sysrq-trigger", NULL};

/* runc's order; rootless drops "network" (a rootless container cannot
 * configure one without a helper) and appends "user". */
static const char *const default_namespaces[] = {"pid", "network", "ipc", "uts", "mount", "cgroup", NULL};

/* An array of strings; with ROOTLESS, without the uid=/gid= options, since
 * those ids are usually not mapped in a rootless user namespace. */
static json_t *strv_json(const char *const *v, bool rootless)
{
	json_t *a = json_array();

	for (; a != NULL && *v != NULL; v++) {
		if (rootless && (str_has_prefix(*v, "uid=") || str_has_prefix(*v, "gid=")))
			continue;
		if (json_array_append_new(a, json_string(*v)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *default_process(void)
{
	return json_pack("{s:b, s:{s:i, s:i}, s:[s], s:o, s:s, s:{s:o, s:o, s:o},"
			 " s:[{s:s, s:i, s:i}], s:b}",
			 "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env", strv_json(default_env, false),
			 "cwd", "/", "capabilities", "bounding", strv_json(default_caps, false), "effective",
			 strv_json(default_caps, false), "permitted", strv_json(default_caps, false), "rlimits", "type",
			 "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
}

static json_t *default_mounts_json(bool rootless)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < ARRAY_SIZE(default_mounts); i++) {
		const struct default_mount *m = &default_mounts[i];
		json_t *o;

		if (rootless && strcmp(m->destination, "/sys") == 0)
			m = &rootless_sys;
		o = json_pack("{s:s, s:s, s:s}", "destination", m->destination, "type", m->type, "source", m->source);
		if (o != NULL && m->options[0] != NULL &&
		    json_object_set_new(o, "options", strv_json(m->options, rootless)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *default_namespaces_json(bool rootless)
{
	json_t *a = json_array();
	const char *const *ns;

	for (ns = default_namespaces; a != NULL && *ns != NULL; ns++) {
		if (rootless && strcmp(*ns, "network") == 0)
			continue;
		if (json_array_append_new(a, json_pack("{s:s}", "type", *ns)) < 0)
			goto fail;
	}
	if (rootless && json_array_append_new(a, json_pack("{s:s}", "type", "user")) < 0)
		goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}

static json_t *idmap_json(unsigned id)
{
	return json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", (json_int_t)id, "size", 1);
}

static json_t *default_linux(bool rootless, uid_t uid, gid_t gid)
{
	json_t *l = json_object();
	int r = 0;

	if (l == NULL)
		return NULL;
	/* runc's key order: mappings, resources, namespaces, paths. */
	if (rootless) {
		r |= json_object_set_new(l, "uidMappings", idmap_json(uid));
		r |= json_object_set_new(l, "gidMappings", idmap_json(gid));
	} else {
		/* Deny every device by default; a rootless container cannot
		 * have a device cgroup, so it gets no resources at all. */
		r |= json_object_set_new(l, "resources",
					 json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
	}
	r |= json_object_set_new(l, "namespaces", default_namespaces_json(rootless));
	r |= json_object_set_new(l, "maskedPaths", strv_json(default_masked, false));
	r |= json_object_set_new(l, "readonlyPaths", strv_json(default_readonly, false));
	if (r != 0) {
		json_decref(l);
		return NULL;
	}
	return l;
}

char *spec_default_json(bool rootless, uid_t uid, gid_t gid)
{
	json_auto_t *spec = NULL;

	spec = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.2.0", "process", default_process(),
			 "root", "path", "rootfs", "readonly", 1, "hostname", "ocirt", "mounts",
			 default_mounts_json(rootless), "linux", default_linux(rootless, uid, gid));
	if (spec == NULL)
		return NULL;
	/* runc indents with tabs; jansson can only indent with spaces. No
	 * trailing newline, as runc: the writer adds it. */
	return json_dumps(spec, JSON_INDENT(4));
}
