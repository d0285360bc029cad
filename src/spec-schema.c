/* runtime-spec config.json as a const table (see spec-schema.h), and the
 * walker that compares a document with it. */
#include "spec-schema.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utils.h"

enum node_kind {
	K_ANY, /* anything: free-form or not described further */
	K_STRING,
	K_BOOL,
	K_INT, /* int64 */
	K_UINT, /* uint64 */
	K_U32, /* 0..UINT32_MAX */
	K_U16, /* 0..UINT16_MAX (block I/O weights) */
	K_OBJECT, /* known members only */
	K_OPAQUE, /* an object we accept without looking inside (vm, windows, ...) */
	K_ARRAY, /* every entry is ITEM */
	K_MAP, /* free-form keys, every value is ITEM (NULL: anything) */
};

struct schema_field;

struct schema_node {
	enum node_kind kind;
	const struct schema_field *fields; /* K_OBJECT */
	size_t n_fields;
	const struct schema_node *item; /* K_ARRAY, K_MAP */
};

struct schema_field {
	const char *key;
	const struct schema_node *node;
};

#define LEAF(k)                  \
	{                        \
		k, NULL, 0, NULL \
	}
#define OBJECT(f)                                \
	{                                        \
		K_OBJECT, f, ARRAY_SIZE(f), NULL \
	}
#define ARRAY(n)                    \
	{                           \
		K_ARRAY, NULL, 0, n \
	}
#define MAP(n)                    \
	{                         \
		K_MAP, NULL, 0, n \
	}

static const struct schema_node n_string = LEAF(K_STRING), n_bool = LEAF(K_BOOL), n_int = LEAF(K_INT),
				n_uint = LEAF(K_UINT), n_u32 = LEAF(K_U32), n_u16 = LEAF(K_U16),
				n_opaque = LEAF(K_OPAQUE);
static const struct schema_node n_strings = ARRAY(&n_string), n_u32s = ARRAY(&n_u32);
static const struct schema_node n_string_map = MAP(&n_string);

/* ---- config.md ------------------------------------------------------- */

static const struct schema_field root_fields[] = {{"path", &n_string}, {"readonly", &n_bool}};

static const struct schema_field idmap_fields[] = {{"containerID", &n_u32}, {"hostID", &n_u32}, {"size", &n_u32}};
static const struct schema_node n_idmap = OBJECT(idmap_fields), n_idmaps = ARRAY(&n_idmap);

static const struct schema_field mount_fields[] = {
	{"destination", &n_string}, {"source", &n_string},	{"options", &n_strings},
	{"type", &n_string},	    {"uidMappings", &n_idmaps}, {"gidMappings", &n_idmaps},
};
static const struct schema_node n_mount = OBJECT(mount_fields), n_mounts = ARRAY(&n_mount);

static const struct schema_field box_fields[] = {{"height", &n_uint}, {"width", &n_uint}};
static const struct schema_field user_fields[] = {
	{"uid", &n_u32}, {"gid", &n_u32}, {"umask", &n_u32}, {"additionalGids", &n_u32s}, {"username", &n_string},
};
static const struct schema_field caps_fields[] = {
	{"bounding", &n_strings},  {"effective", &n_strings}, {"inheritable", &n_strings},
	{"permitted", &n_strings}, {"ambient", &n_strings},
};
static const struct schema_field rlimit_fields[] = {{"type", &n_string}, {"soft", &n_uint}, {"hard", &n_uint}};
static const struct schema_node n_rlimit = OBJECT(rlimit_fields);
static const struct schema_field sched_fields[] = {
	{"policy", &n_string}, {"nice", &n_int},      {"priority", &n_int}, {"flags", &n_strings},
	{"runtime", &n_uint},  {"deadline", &n_uint}, {"period", &n_uint},
};
static const struct schema_field ioprio_fields[] = {{"class", &n_string}, {"priority", &n_int}};
static const struct schema_field affinity_fields[] = {{"initial", &n_string}, {"final", &n_string}};
static const struct schema_node n_box = OBJECT(box_fields), n_user = OBJECT(user_fields), n_caps = OBJECT(caps_fields),
				n_rlimits = ARRAY(&n_rlimit), n_sched = OBJECT(sched_fields),
				n_ioprio = OBJECT(ioprio_fields), n_affinity = OBJECT(affinity_fields);

static const struct schema_field process_fields[] = {
	{"terminal", &n_bool},
	{"consoleSize", &n_box},
	{"user", &n_user},
	{"args", &n_strings},
	{"commandLine", &n_string},
	{"env", &n_strings},
	{"cwd", &n_string},
	{"capabilities", &n_caps},
	{"rlimits", &n_rlimits},
	{"noNewPrivileges", &n_bool},
	{"apparmorProfile", &n_string},
	{"oomScoreAdj", &n_int},
	{"scheduler", &n_sched},
	{"selinuxLabel", &n_string},
	{"ioPriority", &n_ioprio},
	{"execCPUAffinity", &n_affinity},
};

static const struct schema_field hook_fields[] = {
	{"path", &n_string}, {"args", &n_strings}, {"env", &n_strings}, {"timeout", &n_int}};
static const struct schema_node n_hook = OBJECT(hook_fields), n_hook_list = ARRAY(&n_hook);
static const struct schema_field hooks_fields[] = {
	{"prestart", &n_hook_list},	  {"createRuntime", &n_hook_list}, {"createContainer", &n_hook_list},
	{"startContainer", &n_hook_list}, {"poststart", &n_hook_list},	   {"poststop", &n_hook_list},
};

/* ---- config-linux.md --------------------------------------------------- */

static const struct schema_field ns_fields[] = {{"type", &n_string}, {"path", &n_string}};
static const struct schema_node n_ns = OBJECT(ns_fields);
static const struct schema_field time_offset_fields[] = {{"secs", &n_int}, {"nanosecs", &n_u32}};
static const struct schema_node n_time_offset = OBJECT(time_offset_fields);
static const struct schema_field device_fields[] = {
	{"type", &n_string},  {"path", &n_string}, {"major", &n_int}, {"minor", &n_int},
	{"fileMode", &n_u32}, {"uid", &n_u32},	   {"gid", &n_u32},
};
static const struct schema_node n_device = OBJECT(device_fields);

static const struct schema_field dev_rule_fields[] = {
	{"allow", &n_bool}, {"type", &n_string}, {"major", &n_int}, {"minor", &n_int}, {"access", &n_string},
};
static const struct schema_field memory_fields[] = {
	{"limit", &n_int},
	{"reservation", &n_int},
	{"swap", &n_int},
	{"kernel", &n_int},
	{"kernelTCP", &n_int},
	{"swappiness", &n_uint},
	{"disableOOMKiller", &n_bool},
	{"useHierarchy", &n_bool},
	{"checkBeforeUpdate", &n_bool},
};
static const struct schema_field cpu_fields[] = {
	{"shares", &n_uint}, {"quota", &n_int},		  {"burst", &n_uint},
	{"period", &n_uint}, {"realtimeRuntime", &n_int}, {"realtimePeriod", &n_uint},
	{"cpus", &n_string}, {"mems", &n_string},	  {"idle", &n_int},
};
static const struct schema_field pids_fields[] = {{"limit", &n_int}};
static const struct schema_field weight_dev_fields[] = {
	{"major", &n_int}, {"minor", &n_int}, {"weight", &n_u16}, {"leafWeight", &n_u16}};
static const struct schema_field throttle_fields[] = {{"major", &n_int}, {"minor", &n_int}, {"rate", &n_uint}};
static const struct schema_node n_weight_devs = ARRAY((&(const struct schema_node)OBJECT(weight_dev_fields))),
				n_throttles = ARRAY((&(const struct schema_node)OBJECT(throttle_fields)));
static const struct schema_field blkio_fields[] = {
	{"weight", &n_u16},
	{"leafWeight", &n_u16},
	{"weightDevice", &n_weight_devs},
	{"throttleReadBpsDevice", &n_throttles},
	{"throttleWriteBpsDevice", &n_throttles},
	{"throttleReadIOPSDevice", &n_throttles},
	{"throttleWriteIOPSDevice", &n_throttles},
};
static const struct schema_field hugepage_fields[] = {{"pageSize", &n_string}, {"limit", &n_uint}};
static const struct schema_field prio_fields[] = {{"name", &n_string}, {"priority", &n_u32}};
static const struct schema_node n_prios = ARRAY((&(const struct schema_node)OBJECT(prio_fields)));
static const struct schema_field network_fields[] = {{"classID", &n_u32}, {"priorities", &n_prios}};
static const struct schema_field rdma_fields[] = {{"hcaHandles", &n_u32}, {"hcaObjects", &n_u32}};

static const struct schema_field resources_fields[] = {
	{"devices", &(const struct schema_node)ARRAY((&(const struct schema_node)OBJECT(dev_rule_fields)))},
	{"memory", &(const struct schema_node)OBJECT(memory_fields)},
	{"cpu", &(const struct schema_node)OBJECT(cpu_fields)},
	{"pids", &(const struct schema_node)OBJECT(pids_fields)},
	{"blockIO", &(const struct schema_node)OBJECT(blkio_fields)},
	{"hugepageLimits", &(const struct schema_node)ARRAY((&(const struct schema_node)OBJECT(hugepage_fields)))},
	{"network", &(const struct schema_node)OBJECT(network_fields)},
	{"rdma", &(const struct schema_node)MAP((&(const struct schema_node)OBJECT(rdma_fields)))},
	{"unified", &n_string_map},
};

static const struct schema_field rdt_fields[] = {
	{"closID", &n_string},
	{"l3CacheSchema", &n_string},
	{"memBwSchema", &n_string},
	{"schemata", &n_strings},
	{"enableMonitoring", &n_bool},
	/* runtime-spec 1.1.0 to 1.2.1, replaced by enableMonitoring */
	{"enableCMT", &n_bool},
	{"enableMBM", &n_bool},
};

static const struct schema_field scmp_arg_fields[] = {
	{"index", &n_uint}, {"value", &n_uint}, {"valueTwo", &n_uint}, {"op", &n_string}};
static const struct schema_field syscall_fields[] = {
	{"names", &n_strings},
	{"action", &n_string},
	{"errnoRet", &n_uint},
	{"args", &(const struct schema_node)ARRAY((&(const struct schema_node)OBJECT(scmp_arg_fields)))},
};
static const struct schema_field seccomp_fields[] = {
	{"defaultAction", &n_string},
	{"defaultErrnoRet", &n_uint},
	{"architectures", &n_strings},
	{"flags", &n_strings},
	{"listenerPath", &n_string},
	{"listenerMetadata", &n_string},
	{"syscalls", &(const struct schema_node)ARRAY((&(const struct schema_node)OBJECT(syscall_fields)))},
};
static const struct schema_field personality_fields[] = {{"domain", &n_string}, {"flags", &n_strings}};
static const struct schema_field mempolicy_fields[] = {
	{"mode", &n_string}, {"nodes", &n_string}, {"flags", &n_strings}};
static const struct schema_field netdev_fields[] = {{"name", &n_string}};

static const struct schema_field linux_fields[] = {
	{"namespaces", &(const struct schema_node)ARRAY(&n_ns)},
	{"uidMappings", &n_idmaps},
	{"gidMappings", &n_idmaps},
	{"timeOffsets", &(const struct schema_node)MAP(&n_time_offset)},
	{"devices", &(const struct schema_node)ARRAY(&n_device)},
	{"cgroupsPath", &n_string},
	{"resources", &(const struct schema_node)OBJECT(resources_fields)},
	{"intelRdt", &(const struct schema_node)OBJECT(rdt_fields)},
	{"sysctl", &n_string_map},
	{"seccomp", &(const struct schema_node)OBJECT(seccomp_fields)},
	{"rootfsPropagation", &n_string},
	{"maskedPaths", &n_strings},
	{"readonlyPaths", &n_strings},
	{"mountLabel", &n_string},
	{"personality", &(const struct schema_node)OBJECT(personality_fields)},
	{"memoryPolicy", &(const struct schema_node)OBJECT(mempolicy_fields)},
	{"netDevices", &(const struct schema_node)MAP((&(const struct schema_node)OBJECT(netdev_fields)))},
};

static const struct schema_field config_fields[] = {
	{"ociVersion", &n_string},
	{"root", &(const struct schema_node)OBJECT(root_fields)},
	{"mounts", &n_mounts},
	{"process", &(const struct schema_node)OBJECT(process_fields)},
	{"hostname", &n_string},
	{"domainname", &n_string},
	{"hooks", &(const struct schema_node)OBJECT(hooks_fields)},
	{"annotations", &n_string_map},
	{"linux", &(const struct schema_node)OBJECT(linux_fields)},
	/* Other platforms: known, and not ours to check. */
	{"solaris", &n_opaque},
	{"windows", &n_opaque},
	{"vm", &n_opaque},
	{"zos", &n_opaque},
	{"freebsd", &n_opaque},
};

static const struct schema_node n_config = OBJECT(config_fields);

/* ---- the walker ---------------------------------------------------------- */

struct walk {
	bool ints_as_reals;
	size_t max, found;
	spec_schema_report_fn *report;
	void *data;
	char ptr[1024];
	size_t len;
};

/* Append "/" + TOKEN (RFC 6901: ~ as ~0, / as ~1); returns the length to
 * pop back to. A pointer too long for the buffer ends in "/..." instead. */
static size_t ptr_push(struct walk *w, const char *token)
{
	size_t mark = w->len, o = w->len;

	if (o + 1 < sizeof(w->ptr))
		w->ptr[o++] = '/';
	for (const char *p = token; *p && o + 2 < sizeof(w->ptr); p++) {
		if (*p == '~' || *p == '/') {
			w->ptr[o++] = '~';
			w->ptr[o++] = *p == '~' ? '0' : '1';
		} else {
			w->ptr[o++] = *p;
		}
	}
	if (o + 2 >= sizeof(w->ptr))
		o = (size_t)snprintf(w->ptr + mark, sizeof(w->ptr) - mark, "/...") + mark;
	w->len = o < sizeof(w->ptr) ? o : sizeof(w->ptr) - 1;
	w->ptr[w->len] = '\0';
	return mark;
}

static void ptr_pop(struct walk *w, size_t mark)
{
	w->len = mark;
	w->ptr[mark] = '\0';
}

static void emit(struct walk *w, const struct spec_schema_finding *f)
{
	if (w->found++ < w->max && w->report != NULL)
		w->report(w->data, f);
}

static const char *json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	default:
		return "?";
	}
}

static const char *expected_name(enum node_kind k)
{
	switch (k) {
	case K_STRING:
		return "a string";
	case K_BOOL:
		return "a boolean";
	case K_INT:
		return "an integer";
	case K_UINT:
		return "an integer in 0..18446744073709551615";
	case K_U32:
		return "an integer in 0..4294967295";
	case K_U16:
		return "an integer in 0..65535";
	case K_OBJECT:
	case K_OPAQUE:
	case K_MAP:
		return "an object";
	case K_ARRAY:
		return "an array";
	case K_ANY:
	default:
		return "anything";
	}
}

/* V as an integer: an integer, or (when the document was decoded with
 * integers as reals) an integral real. *RET_NEG says it is below 0, *RET_U
 * is its magnitude when not. */
static bool as_integer(const struct walk *w, const json_t *v, bool *ret_neg, uint64_t *ret_u)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		*ret_neg = i < 0;
		*ret_u = i < 0 ? 0 : (uint64_t)i;
		return true;
	}
	if (json_is_real(v) && w->ints_as_reals) {
		double d = json_real_value(v);
		/* Doubles beyond 2^63 are integral; below, compare with the cast. */
		if (d > -9.2e18 && d < 9.2e18 && (double)(long long)d != d)
			return false;
		*ret_neg = d < 0;
		*ret_u = d < 0 ? 0 : d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
		return !(d > 18446744073709551615.0);
	}
	return false;
}

static bool type_ok(const struct walk *w, const struct schema_node *n, const json_t *v)
{
	bool neg = false;
	uint64_t u = 0;

	switch (n->kind) {
	case K_ANY:
		return true;
	case K_STRING:
		return json_is_string(v);
	case K_BOOL:
		return json_is_boolean(v);
	case K_INT:
		return as_integer(w, v, &neg, &u) && (neg || u <= INT64_MAX);
	case K_UINT:
		return as_integer(w, v, &neg, &u) && !neg;
	case K_U32:
		return as_integer(w, v, &neg, &u) && !neg && u <= UINT32_MAX;
	case K_U16:
		return as_integer(w, v, &neg, &u) && !neg && u <= UINT16_MAX;
	case K_OBJECT:
	case K_OPAQUE:
	case K_MAP:
		return json_is_object(v);
	case K_ARRAY:
		return json_is_array(v);
	default:
		return false;
	}
}

/* The field of N that KEY is probably a typo of: the closest within an
 * edit distance of 2, and close relative to the length (a 2-letter key is
 * not a typo of every other 2-letter key). */
static const char *suggest(const struct schema_node *n, const char *key)
{
	const char *best = NULL;
	size_t best_d = 3, klen = strlen(key);

	if (klen > 64)
		return NULL;
	for (size_t i = 0; i < n->n_fields; i++) {
		const char *cand = n->fields[i].key;
		size_t clen = strlen(cand), d = spec_schema_distance(key, cand, 2);
		if (d < best_d && d * 3 <= (klen > clen ? klen : clen)) {
			best = cand;
			best_d = d;
		}
	}
	return best;
}

static void walk_node(struct walk *w, const struct schema_node *n, json_t *v);

static void walk_object(struct walk *w, const struct schema_node *n, json_t *v)
{
	const char *key;
	json_t *m;

	json_object_foreach (v, key, m) {
		const struct schema_field *f = NULL;
		size_t mark;

		for (size_t i = 0; i < n->n_fields && f == NULL; i++)
			if (strcmp(n->fields[i].key, key) == 0)
				f = &n->fields[i];
		mark = ptr_push(w, key);
		if (f == NULL)
			emit(w, &(struct spec_schema_finding){.issue = SPEC_SCHEMA_UNKNOWN,
							      .pointer = w->ptr,
							      .suggestion = suggest(n, key)});
		else
			walk_node(w, f->node, m);
		ptr_pop(w, mark);
	}
}

static void walk_node(struct walk *w, const struct schema_node *n, json_t *v)
{
	/* Go writes null for a nil pointer, slice or map; the parser takes it
	 * as absent, and so does every other runtime. */
	if (json_is_null(v))
		return;
	if (!type_ok(w, n, v)) {
		emit(w, &(struct spec_schema_finding){.issue = SPEC_SCHEMA_TYPE,
						      .pointer = w->ptr[0] ? w->ptr : "/",
						      .expected = expected_name(n->kind),
						      .got = json_kind_name(v)});
		return;
	}
	if (n->kind == K_OBJECT) {
		walk_object(w, n, v);
	} else if (n->kind == K_ARRAY && n->item != NULL) {
		size_t i;
		json_t *e;
		json_array_foreach (v, i, e) {
			char idx[24];
			snprintf(idx, sizeof(idx), "%zu", i);
			size_t mark = ptr_push(w, idx);
			walk_node(w, n->item, e);
			ptr_pop(w, mark);
		}
	} else if (n->kind == K_MAP && n->item != NULL) {
		const char *key;
		json_t *e;
		json_object_foreach (v, key, e) {
			size_t mark = ptr_push(w, key);
			walk_node(w, n->item, e);
			ptr_pop(w, mark);
		}
	}
}

size_t spec_schema_check(json_t *root, bool ints_as_reals, size_t max, spec_schema_report_fn *report, void *data)
{
	struct walk w = {.ints_as_reals = ints_as_reals, .max = max, .report = report, .data = data};

	walk_node(&w, &n_config, root);
	return w.found;
}

int spec_schema_check_buf(const char *buf, size_t len, size_t max, spec_schema_report_fn *report, void *data,
			  size_t *ret_n, struct ocr_error *err)
{
	json_error_t e;
	bool reals = false;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);

	/* Docker writes RLIM_INFINITY as 18446744073709551615, past jansson's
	 * int64: read every number as a double then (types still check). */
	if (root == NULL && json_error_code(&e) == json_error_numeric_overflow) {
		root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &e);
		reals = true;
	}
	if (root == NULL)
		return ocr_fail(err, EINVAL, "config.json: line %d column %d: %s", e.line, e.column, e.text);
	*ret_n = spec_schema_check(root, reals, max, report, data);
	json_decref(root);
	return 0;
}

size_t spec_schema_distance(const char *a, const char *b, size_t limit)
{
	/* Optimal string alignment over three rows; keys are short (callers
	 * stop at 64 bytes), anything longer is just "far". */
	size_t la = strlen(a), lb = strlen(b), rows[3][66];
	size_t *pp = rows[0], *p = rows[1], *c = rows[2];

	if (la > 64 || lb > 64)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		p[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t row_min;
		c[0] = row_min = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], d = p[j - 1] + cost;
			if (p[j] + 1 < d)
				d = p[j] + 1;
			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
			if (d < row_min)
				row_min = d;
		}
		if (row_min > limit)
			return limit + 1;
		size_t *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[lb] > limit ? limit + 1 : p[lb];
}
