/* config.json → struct spec (see spec.h). The document is checked once,
 * here, against the shapes of runtime-spec 1.x; members we do not know are
 * ignored so newer configs still load, but a value we do not know in a field
 * that selects behaviour (a namespace type, an rlimit, a seccomp action) is
 * an error: silently ignoring it would run the container with less
 * isolation than asked for. */
#include "spec.h"

#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "utils.h"

/* Entries of any one array or object: far above real configs, and a bound
 * on what a hostile file makes us allocate besides the file itself. */
#define SPEC_MAX_ARRAY 100000u
/* Lines the kernel accepts in uid_map/gid_map (since Linux 4.15). */
#define SPEC_MAX_IDMAPS 340u

struct arena;

/* The state of one parse: where the memory goes, and the JSON path of the
 * value being read, which every error message starts with. */
struct pctx {
	struct arena *arena;
	const char *origin;
	struct ocr_error *err;
	size_t len;
	char path[512];
};

/* A name of an enum-like field and its value. */
struct spec_name {
	const char *name;
	long value;
};

/* Scalar members of one JSON object, read by parse_fields() into the
 * struct at the given offsets. Ranges are inclusive; MIN applies to the
 * signed kinds only (unsigned ones start at 0). */
enum field_kind { F_STR, F_BOOL, F_INT, F_U32, F_I64, F_U64, F_OPT_I64, F_OPT_U64 };

struct field {
	const char *key;
	enum field_kind kind;
	bool required;
	size_t off;
	int64_t min;
	uint64_t max;
};

#define FIELD(type, key, kind, member, required, min, max)            \
	{                                                             \
		key, kind, required, offsetof(type, member), min, max \
	}

/* Evaluate EXPR with a path component pushed (MARK_EXPR pushes it). Never
 * nest these: the hidden variables would shadow each other. */
#define AT(c, mark_expr, expr)              \
	({                                  \
		size_t _mark = (mark_expr); \
		int _res = (expr);          \
		path_pop((c), _mark);       \
		_res;                       \
	})
#define AT_INDEX(c, i, expr) AT(c, path_push((c), "[%zu]", (size_t)(i)), expr)
#define AT_KEY(c, key, expr) AT(c, path_push_key((c), (key)), expr)

/* Parse member KEY of OBJ with FN(c, value, ...), KEY on the path. An
 * absent (or null) member is an error only when REQUIRED. */
#define MEMBER(c, obj, key, required, fn, ...)                                         \
	({                                                                             \
		json_t *_member = member((obj), (key));                                \
		_member == NULL ? ((required) ? spec_missing((c), (key)) : 0)          \
				: AT_KEY((c), (key), fn((c), _member, ##__VA_ARGS__)); \
	})

/* Define NAME(c, v, T **ret, size_t *ret_n): a JSON array of T, each entry
 * read by ELEM(c, entry, T *). */
#define DEFINE_ARRAY_PARSER(name, T, elem)                                            \
	static int name(struct pctx *c, json_t *v, T **ret, size_t *ret_n)            \
	{                                                                             \
		T *a;                                                                 \
		size_t i, n;                                                          \
                                                                                      \
		if (val_array(c, v, SPEC_MAX_ARRAY, &n) < 0)                          \
			return -1;                                                    \
		a = arena_array(c->arena, n, sizeof(T));                              \
		for (i = 0; i < n; i++)                                               \
			if (AT_INDEX(c, i, elem(c, json_array_get(v, i), &a[i])) < 0) \
				return -1;                                            \
		*ret = a;                                                             \
		*ret_n = n;                                                           \
		return 0;                                                             \
	}

typedef int str_check_fn(struct pctx *c, const char *s);

static size_t path_push(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int spec_fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- arena ---------------------------------------------------------- */

/* Everything a parsed spec points to lives in one chain of blocks, so a
 * spec of any shape is freed by one call, and a parse that fails half-way
 * leaks nothing. */
struct arena_block {
	struct arena_block *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
};

#define ARENA_BLOCK_SIZE (32u * 1024u)

static struct arena *arena_new(void)
{
	return xcalloc(1, sizeof(struct arena));
}

void spec_arena_free(void *arena)
{
	struct arena *a = arena;
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

static void arena_freep(struct arena **a)
{
	spec_arena_free(*a);
}

static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct arena_block *b = a->head;
	void *p;

	if (n > SIZE_MAX / 2)
		abort(); /* callers bound n by the input size; this is a bug */
	n = (n + align - 1) & ~(align - 1);
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK_SIZE / 4 ? n : ARENA_BLOCK_SIZE;

		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		/* A large block goes behind the head, so the free room left in
		 * the current block is still used by small allocations. */
		if (a->head != NULL && size != ARENA_BLOCK_SIZE) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void *arena_array(struct arena *a, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total))
		abort(); /* n is bounded by SPEC_MAX_ARRAY; this is a bug */
	return arena_alloc(a, total);
}

static char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* ---- names ----------------------------------------------------------- */

static const struct spec_name namespace_names[] = {
	{"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},      {"ipc", CLONE_NEWIPC},
	{"uts", CLONE_NEWUTS}, {"user", CLONE_NEWUSER},	  {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

/* Every resource of setrlimit(2) on Linux. */
static const struct spec_name rlimit_names[] = {
	{"RLIMIT_AS", RLIMIT_AS},
	{"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_CPU", RLIMIT_CPU},
	{"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},
	{"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},
	{"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_NPROC", RLIMIT_NPROC},
	{"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"RLIMIT_STACK", RLIMIT_STACK},
};

/* The kernel's values (include/uapi/linux/sched.h); glibc has no SCHED_ISO
 * (reserved, never implemented) and no SCHED_FLAG_* at all. */
static const struct spec_name sched_policy_names[] = {
	{"SCHED_OTHER", SCHED_OTHER},	    {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
	{"SCHED_BATCH", SCHED_BATCH},	    {"SCHED_ISO", 4},		{"SCHED_IDLE", SCHED_IDLE},
	{"SCHED_DEADLINE", SCHED_DEADLINE},
};

static const struct spec_name sched_flag_names[] = {
	{"SCHED_FLAG_RESET_ON_FORK", 0x01},  {"SCHED_FLAG_RECLAIM", 0x02},     {"SCHED_FLAG_DL_OVERRUN", 0x04},
	{"SCHED_FLAG_KEEP_POLICY", 0x08},    {"SCHED_FLAG_KEEP_PARAMS", 0x10}, {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
	{"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
};

/* IOPRIO_CLASS_* of the kernel's ioprio.h, which glibc does not export. */
static const struct spec_name ioprio_class_names[] = {
	{"IOPRIO_CLASS_RT", 1},
	{"IOPRIO_CLASS_BE", 2},
	{"IOPRIO_CLASS_IDLE", 3},
};

static const char *const hook_kind_keys[SPEC_HOOK_KIND_COUNT] = {
	[SPEC_HOOK_PRESTART] = "prestart",
	[SPEC_HOOK_CREATE_RUNTIME] = "createRuntime",
	[SPEC_HOOK_CREATE_CONTAINER] = "createContainer",
	[SPEC_HOOK_START_CONTAINER] = "startContainer",
	[SPEC_HOOK_POSTSTART] = "poststart",
	[SPEC_HOOK_POSTSTOP] = "poststop",
};

static int spec_name_lookup(const struct spec_name *t, size_t n, const char *name, long *ret)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) == 0) {
			*ret = t[i].value;
			return 0;
		}
	}
	return -1;
}

int spec_namespace_type_from_name(const char *name)
{
	long v;

	if (name == NULL || spec_name_lookup(namespace_names, ARRAY_SIZE(namespace_names), name, &v) < 0)
		return -1;
	return (int)v;
}

const char *spec_namespace_type_name(int type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(namespace_names); i++)
		if (namespace_names[i].value == type)
			return namespace_names[i].name;
	return NULL;
}

int spec_rlimit_from_name(const char *name)
{
	long v;

	if (name == NULL || spec_name_lookup(rlimit_names, ARRAY_SIZE(rlimit_names), name, &v) < 0)
		return -1;
	return (int)v;
}

/* ---- parse context: the JSON path and errors ------------------------- */

static size_t path_push(struct pctx *c, const char *fmt, ...)
{
	size_t mark = c->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->len, sizeof(c->path) - c->len, fmt, ap);
	va_end(ap);
	/* A path longer than the buffer is cut; the message stays readable. */
	if (n > 0)
		c->len = c->len + (size_t)n < sizeof(c->path) ? c->len + (size_t)n : sizeof(c->path) - 1;
	return mark;
}

static size_t path_push_key(struct pctx *c, const char *key)
{
	return path_push(c, c->len > 0 ? ".%.200s" : "%.200s", key);
}

static void path_pop(struct pctx *c, size_t mark)
{
	c->len = mark;
	c->path[mark] = '\0';
}

/* Every message quotes the document (keys on the path, values, jansson's
 * "near" text): escaped, it stays one line without terminal controls. */
static int fail_escaped(struct ocr_error *err, const char *msg)
{
	char escaped[OCR_ERROR_MSG_MAX];

	str_escape(escaped, sizeof(escaped), msg);
	return ocr_fail(err, EINVAL, "%s", escaped);
}

static int spec_fail(struct pctx *c, const char *fmt, ...)
{
	char msg[768], full[OCR_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->len == 0)
		snprintf(full, sizeof(full), "%s: %s", c->origin, msg);
	else
		snprintf(full, sizeof(full), "%s: %s: %s", c->origin, c->path, msg);
	fail_escaped(c->err, full);
	return -1; /* visibly, so the compiler sees outputs set on 0 */
}

static int spec_missing(struct pctx *c, const char *key)
{
	size_t mark = path_push_key(c, key);

	spec_fail(c, "required field is missing");
	path_pop(c, mark);
	return -1;
}

/* ---- loading the document -------------------------------------------- */

/* jansson keeps integers in an int64, but uint64 fields go above INT64_MAX:
 * Docker writes RLIM_INFINITY as 18446744073709551615, and seccomp argument
 * masks use the top bit. Such a number is rewritten into the string
 * "\u0000<digits>", which no accepted document can contain (this runs only
 * when there is no \u0000 in the input, and jansson rejects NULs without
 * JSON_ALLOW_NUL), and the integer readers decode it again. */
#define BIG_MARK "\\u0000"

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* True when TOKEN (LEN bytes, a JSON number) is a plain integer above
 * INT64_MAX that still fits a uint64. */
static bool big_unsigned(const char *token, size_t len)
{
	char digits[24];
	unsigned long long u;
	size_t i;

	if (len < 19 || len >= sizeof(digits))
		return false;
	for (i = 0; i < len; i++)
		if (!is_digit(token[i]))
			return false;
	memcpy(digits, token, len);
	digits[len] = '\0';
	errno = 0;
	u = strtoull(digits, NULL, 10);
	return errno == 0 && u > INT64_MAX;
}

static char *rewrite_big_integers(const char *buf, size_t len, size_t *ret_len)
{
	/* Each rewritten token has at least 19 digits and grows by 8. */
	cleanup_free char *out = xmalloc(len + len / 2 + 16);
	bool in_string = false;
	size_t i = 0, o = 0, rewritten = 0;

	while (i < len) {
		char ch = buf[i];

		if (in_string) {
			if (ch == '\\' && len - i > 5 && memcmp(buf + i + 1, "u0000", 5) == 0)
				return NULL;
			if (ch == '\\' && i + 1 < len)
				out[o++] = buf[i++];
			else if (ch == '"')
				in_string = false;
			out[o++] = buf[i++];
		} else if (is_digit(ch) || ch == '-') {
			/* The whole number token, so that the digits of a
			 * negative number or an exponent are left alone. */
			size_t j = i;

			size_t k;

			while (j < len && buf[j] != '\0' && (is_digit(buf[j]) || strchr("+-.eE", buf[j]) != NULL))
				j++;
			/* Not a number in the place of a key ({1e30: ...}): as a
			 * string it would become a key that starts with NUL. */
			for (k = j; k < len && strchr(" \t\r\n", buf[k]) != NULL; k++)
				;
			if (big_unsigned(buf + i, j - i) && (k == len || buf[k] != ':')) {
				memcpy(out + o, "\"" BIG_MARK, 7);
				memcpy(out + o + 7, buf + i, j - i);
				o += 7 + (j - i);
				out[o++] = '"';
				rewritten++;
			} else {
				memcpy(out + o, buf + i, j - i);
				o += j - i;
			}
			i = j;
		} else {
			if (ch == '"')
				in_string = true;
			out[o++] = buf[i++];
		}
	}
	if (rewritten == 0)
		return NULL; /* the overflow was something else: report it */
	*ret_len = o;
	return steal_pointer(&out);
}

static int syntax_error(const json_error_t *e, const char *origin, const char *text, struct ocr_error *err)
{
	char msg[OCR_ERROR_MSG_MAX];
	int column = e->column;

	/* Report the column of the input, not of our rewritten copy. */
	if (text != NULL && e->position > 0) {
		const char *line_start = text, *p;
		const char *stop = text + e->position;

		for (p = text; p < stop; p++)
			if (*p == '\n')
				line_start = p + 1;
		for (p = line_start; (p = strstr(p, BIG_MARK)) != NULL && p < stop; p++)
			column -= 8;
	}
	snprintf(msg, sizeof(msg), "%s: line %d column %d: %s", origin, e->line, column, e->text);
	return fail_escaped(err, msg);
}

static int load_json(const char *buf, size_t len, const char *origin, json_t **ret, struct ocr_error *err)
{
	cleanup_free char *copy = NULL;
	size_t copy_len;
	json_error_t e;
	json_t *j;

	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL && json_error_code(&e) == json_error_numeric_overflow &&
	    (copy = rewrite_big_integers(buf, len, &copy_len)) != NULL) {
		/* NUL-terminated for syntax_error()'s scan. */
		copy[copy_len] = '\0';
		j = json_loadb(copy, copy_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
		if (j == NULL)
			return syntax_error(&e, origin, copy, err);
	}
	if (j == NULL)
		return syntax_error(&e, origin, NULL, err);
	if (!json_is_object(j)) {
		json_decref(j);
		return ocr_fail(err, EINVAL, "%s: expected an object at the top level", origin);
	}
	*ret = j;
	return 0;
}

/* ---- value readers ----------------------------------------------------- */

static json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	/* Go writes null for a nil slice or pointer: the same as absent. */
	return json_is_null(v) ? NULL : v;
}

static bool big_integer(json_t *v, uint64_t *ret)
{
	if (!json_is_string(v) || json_string_length(v) < 2 || json_string_value(v)[0] != '\0')
		return false;
	*ret = strtoull(json_string_value(v) + 1, NULL, 10);
	return true;
}

static int val_cstr(struct pctx *c, json_t *v, const char **ret)
{
	uint64_t u;

	*ret = NULL;
	if (!json_is_string(v) || big_integer(v, &u))
		return spec_fail(c, "expected a string");
	*ret = json_string_value(v);
	return 0;
}

static int val_str(struct pctx *c, json_t *v, char **ret)
{
	const char *s;

	if (val_cstr(c, v, &s) < 0)
		return -1;
	*ret = arena_strndup(c->arena, s, json_string_length(v));
	return 0;
}

static int check_abs(struct pctx *c, const char *s)
{
	if (s[0] != '/')
		return spec_fail(c, "must be an absolute path");
	return 0;
}

static int val_abs_path(struct pctx *c, json_t *v, char **ret)
{
	if (val_str(c, v, ret) < 0)
		return -1;
	return check_abs(c, *ret);
}

/* A path the runtime creates inside the container (a mount destination, a
 * device): absolute, and no `..` that would climb out of where it says. */
static int val_container_path(struct pctx *c, json_t *v, char **ret)
{
	const char *p;

	if (val_abs_path(c, v, ret) < 0)
		return -1;
	for (p = *ret; (p = strstr(p, "..")) != NULL; p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return spec_fail(c, "`%.200s`: `..` is not allowed", *ret);
	return 0;
}

static int val_bool(struct pctx *c, json_t *v, bool *ret)
{
	if (!json_is_boolean(v))
		return spec_fail(c, "expected a boolean");
	*ret = json_is_true(v);
	return 0;
}

static int val_u64(struct pctx *c, json_t *v, uint64_t max, uint64_t *ret)
{
	uint64_t u;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0)
			return spec_fail(c, "%lld is out of range 0..%llu", (long long)i, (unsigned long long)max);
		u = (uint64_t)i;
	} else if (!big_integer(v, &u)) {
		return spec_fail(c, "expected an integer");
	}
	if (u > max)
		return spec_fail(c, "%llu is out of range 0..%llu", (unsigned long long)u, (unsigned long long)max);
	*ret = u;
	return 0;
}

static int val_i64(struct pctx *c, json_t *v, int64_t min, int64_t max, int64_t *ret)
{
	uint64_t u;
	json_int_t i;

	if (big_integer(v, &u))
		return spec_fail(c, "%llu is out of range %lld..%lld", (unsigned long long)u, (long long)min,
				 (long long)max);
	if (!json_is_integer(v))
		return spec_fail(c, "expected an integer");
	i = json_integer_value(v);
	if (i < min || i > max)
		return spec_fail(c, "%lld is out of range %lld..%lld", (long long)i, (long long)min, (long long)max);
	*ret = i;
	return 0;
}

static int val_u32(struct pctx *c, json_t *v, uint32_t *ret)
{
	uint64_t u;

	if (val_u64(c, v, UINT32_MAX, &u) < 0)
		return -1;
	*ret = (uint32_t)u;
	return 0;
}

static int val_object(struct pctx *c, json_t *v)
{
	if (!json_is_object(v))
		return spec_fail(c, "expected an object");
	if (json_object_size(v) > SPEC_MAX_ARRAY)
		return spec_fail(c, "more than %u members", SPEC_MAX_ARRAY);
	return 0;
}

static int val_array(struct pctx *c, json_t *v, size_t max, size_t *ret_n)
{
	*ret_n = 0;
	if (!json_is_array(v))
		return spec_fail(c, "expected an array");
	if (json_array_size(v) > max)
		return spec_fail(c, "more than %zu entries", max);
	*ret_n = json_array_size(v);
	return 0;
}

static int val_enum(struct pctx *c, json_t *v, const struct spec_name *t, size_t n, const char *what, long *ret)
{
	const char *s;

	*ret = 0;
	if (val_cstr(c, v, &s) < 0)
		return -1;
	if (spec_name_lookup(t, n, s, ret) < 0)
		return spec_fail(c, "unknown %s `%.200s`", what, s);
	return 0;
}

static int val_checked_str(struct pctx *c, json_t *v, str_check_fn *check, char **ret)
{
	if (val_str(c, v, ret) < 0)
		return -1;
	return check != NULL ? check(c, *ret) : 0;
}

static int val_strv(struct pctx *c, json_t *v, str_check_fn *check, char ***ret, size_t *ret_n)
{
	char **strv;
	size_t i, n;

	if (val_array(c, v, SPEC_MAX_ARRAY, &n) < 0)
		return -1;
	strv = arena_array(c->arena, n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		if (AT_INDEX(c, i, val_checked_str(c, json_array_get(v, i), check, &strv[i])) < 0)
			return -1;
	*ret = strv;
	if (ret_n != NULL)
		*ret_n = n;
	return 0;
}

static int val_kv(struct pctx *c, json_t *v, struct spec_kv **ret, size_t *ret_n)
{
	struct spec_kv *kv;
	const char *key;
	json_t *value;
	size_t n = 0;

	if (val_object(c, v) < 0)
		return -1;
	kv = arena_array(c->arena, json_object_size(v), sizeof(*kv));
	json_object_foreach (v, key, value) {
		kv[n].key = arena_strndup(c->arena, key, strlen(key));
		if (AT(c, path_push(c, "[\"%.200s\"]", key), val_str(c, value, &kv[n].value)) < 0)
			return -1;
		n++;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

static int store_field(struct pctx *c, json_t *v, const struct field *f, void *dst)
{
	int64_t s;
	uint64_t u;

	switch (f->kind) {
	case F_STR:
		return val_str(c, v, dst);
	case F_BOOL:
		return val_bool(c, v, dst);
	case F_INT:
		if (val_i64(c, v, f->min, (int64_t)f->max, &s) < 0)
			return -1;
		*(int *)dst = (int)s;
		return 0;
	case F_U32:
		if (val_u64(c, v, f->max, &u) < 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case F_I64:
		return val_i64(c, v, f->min, (int64_t)f->max, dst);
	case F_U64:
		return val_u64(c, v, f->max, dst);
	case F_OPT_I64:
		((struct opt_i64 *)dst)->set = true;
		return val_i64(c, v, f->min, (int64_t)f->max, &((struct opt_i64 *)dst)->v);
	case F_OPT_U64:
		((struct opt_u64 *)dst)->set = true;
		return val_u64(c, v, f->max, &((struct opt_u64 *)dst)->v);
	default:
		break;
	}
	abort(); /* a field table names a kind this switch lacks */
}

static int parse_fields(struct pctx *c, json_t *obj, void *base, const struct field *f, size_t n)
{
	size_t i;

	if (val_object(c, obj) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *v = member(obj, f[i].key);

		if (v == NULL) {
			if (f[i].required)
				return spec_missing(c, f[i].key);
			continue;
		}
		if (AT_KEY(c, f[i].key, store_field(c, v, &f[i], (char *)base + f[i].off)) < 0)
			return -1;
	}
	return 0;
}

static int val_idmaps(struct pctx *c, json_t *v, struct spec_idmap **ret, size_t *ret_n)
{
	static const struct field fields[] = {
		FIELD(struct spec_idmap, "containerID", F_U32, container_id, true, 0, UINT32_MAX),
		FIELD(struct spec_idmap, "hostID", F_U32, host_id, true, 0, UINT32_MAX),
		FIELD(struct spec_idmap, "size", F_U32, size, true, 0, UINT32_MAX),
	};
	struct spec_idmap *m;
	size_t i, n;

	if (val_array(c, v, SPEC_MAX_IDMAPS, &n) < 0)
		return -1;
	m = arena_array(c->arena, n, sizeof(*m));
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);

		if (AT_INDEX(c, i, parse_fields(c, e, &m[i], fields, ARRAY_SIZE(fields))) < 0)
			return -1;
		if (m[i].size == 0)
			return AT(c, path_push(c, "[%zu].size", i), spec_fail(c, "must be greater than 0"));
		if (m[i].container_id > UINT32_MAX - (m[i].size - 1) || m[i].host_id > UINT32_MAX - (m[i].size - 1))
			return AT_INDEX(c, i, spec_fail(c, "range goes past 4294967295"));
	}
	*ret = m;
	*ret_n = n;
	return 0;
}

/* ---- process --------------------------------------------------------- */

static int check_env(struct pctx *c, const char *s)
{
	if (strchr(s, '=') == NULL)
		return spec_fail(c, "expected KEY=VALUE, got `%.200s`", s);
	return 0;
}

bool spec_cap_name_valid(const char *s)
{
	if (!str_has_prefix(s, "CAP_") || s[4] == '\0')
		return false;
	for (const char *p = s + 4; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || is_digit(*p) || *p == '_'))
			return false;
	return true;
}

static int check_cap(struct pctx *c, const char *s)
{
	if (!spec_cap_name_valid(s))
		return spec_fail(c, "invalid capability name `%.200s`", s);
	return 0;
}

static int parse_user(struct pctx *c, json_t *v, struct spec_user *u)
{
	static const struct field fields[] = {
		FIELD(struct spec_user, "uid", F_U32, uid, false, 0, UINT32_MAX),
		FIELD(struct spec_user, "gid", F_U32, gid, false, 0, UINT32_MAX),
		FIELD(struct spec_user, "umask", F_OPT_U64, umask, false, 0, 0777),
		FIELD(struct spec_user, "username", F_STR, username, false, 0, 0),
	};
	json_t *gids;
	size_t i;

	if (parse_fields(c, v, u, fields, ARRAY_SIZE(fields)) < 0)
		return -1;
	gids = member(v, "additionalGids");
	if (gids == NULL)
		return 0;
	/* NGROUPS_MAX of the kernel: setgroups(2) takes no more. */
	if (AT_KEY(c, "additionalGids", val_array(c, gids, 65536, &u->n_additional_gids)) < 0)
		return -1;
	u->additional_gids = arena_array(c->arena, u->n_additional_gids, sizeof(uint32_t));
	for (i = 0; i < u->n_additional_gids; i++)
		if (AT(c, path_push(c, ".additionalGids[%zu]", i),
		       val_u32(c, json_array_get(gids, i), &u->additional_gids[i])) < 0)
			return -1;
	return 0;
}

static int parse_caps(struct pctx *c, json_t *v, struct spec_caps **ret)
{
	struct spec_caps *caps;

	if (val_object(c, v) < 0)
		return -1;
	caps = arena_alloc(c->arena, sizeof(*caps));
#define CAP_SET(name) MEMBER(c, v, #name, false, val_strv, check_cap, &caps->name, &caps->n_##name)
	if (CAP_SET(bounding) < 0 || CAP_SET(effective) < 0 || CAP_SET(inheritable) < 0 || CAP_SET(permitted) < 0 ||
	    CAP_SET(ambient) < 0)
		return -1;
#undef CAP_SET
	*ret = caps;
	return 0;
}

static int parse_rlimit(struct pctx *c, json_t *v, struct spec_rlimit *r)
{
	static const struct field fields[] = {
		FIELD(struct spec_rlimit, "soft", F_U64, soft, true, 0, UINT64_MAX),
		FIELD(struct spec_rlimit, "hard", F_U64, hard, true, 0, UINT64_MAX),
	};
	long resource;

	if (parse_fields(c, v, r, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "type", true, val_enum, rlimit_names, ARRAY_SIZE(rlimit_names), "rlimit", &resource) < 0 ||
	    MEMBER(c, v, "type", true, val_str, &r->name) < 0)
		return -1;
	r->resource = (int)resource;
	/* setrlimit(2) would fail with a bare EINVAL at start; say it now. */
	if (r->soft > r->hard)
		return spec_fail(c, "soft limit %llu is above the hard limit %llu", (unsigned long long)r->soft,
				 (unsigned long long)r->hard);
	return 0;
}

DEFINE_ARRAY_PARSER(parse_rlimit_list, struct spec_rlimit, parse_rlimit)

static int parse_rlimits(struct pctx *c, json_t *v, struct spec_rlimit **ret, size_t *ret_n)
{
	size_t i, j;

	if (parse_rlimit_list(c, v, ret, ret_n) < 0)
		return -1;
	/* Quadratic, but a duplicate among 16 types shows up by entry 17. */
	for (i = 1; i < *ret_n; i++)
		for (j = 0; j < i; j++)
			if ((*ret)[i].resource == (*ret)[j].resource)
				return AT(c, path_push(c, "[%zu].type", i),
					  spec_fail(c, "duplicate rlimit `%s`", (*ret)[i].name));
	return 0;
}

static int parse_io_priority(struct pctx *c, json_t *v, struct spec_io_priority *io)
{
	static const struct field fields[] = {
		FIELD(struct spec_io_priority, "priority", F_INT, priority, true, 0, 7),
	};
	long klass;

	if (parse_fields(c, v, io, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "class", true, val_enum, ioprio_class_names, ARRAY_SIZE(ioprio_class_names),
		   "I/O priority class", &klass) < 0)
		return -1;
	io->klass = (int)klass;
	io->set = true;
	return 0;
}

static int val_sched_flags(struct pctx *c, json_t *v, uint64_t *ret)
{
	size_t i, n;
	long flag;

	if (val_array(c, v, SPEC_MAX_ARRAY, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);

		if (AT_INDEX(c, i,
			     val_enum(c, e, sched_flag_names, ARRAY_SIZE(sched_flag_names), "scheduler flag", &flag)) <
		    0)
			return -1;
		*ret |= (uint64_t)flag;
	}
	return 0;
}

static int parse_scheduler(struct pctx *c, json_t *v, struct spec_scheduler *s)
{
	static const struct field fields[] = {
#define I32(key, m) FIELD(struct spec_scheduler, key, F_INT, m, false, INT32_MIN, INT32_MAX)
		I32("nice", nice),
		I32("priority", priority),
#undef I32
		FIELD(struct spec_scheduler, "runtime", F_U64, runtime, false, 0, UINT64_MAX),
		FIELD(struct spec_scheduler, "deadline", F_U64, deadline, false, 0, UINT64_MAX),
		FIELD(struct spec_scheduler, "period", F_U64, period, false, 0, UINT64_MAX),
	};
	long policy;

	if (parse_fields(c, v, s, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "policy", true, val_enum, sched_policy_names, ARRAY_SIZE(sched_policy_names),
		   "scheduler policy", &policy) < 0 ||
	    MEMBER(c, v, "flags", false, val_sched_flags, &s->flags) < 0)
		return -1;
	s->policy = (int)policy;
	s->set = true;
	return 0;
}

static int val_nonempty_strv(struct pctx *c, json_t *v, char ***ret, size_t *ret_n)
{
	if (val_strv(c, v, NULL, ret, ret_n) < 0)
		return -1;
	if (*ret_n == 0)
		return spec_fail(c, "must not be empty");
	return 0;
}

static int parse_process(struct pctx *c, json_t *v, struct spec_process *p)
{
	static const struct field fields[] = {
		FIELD(struct spec_process, "terminal", F_BOOL, terminal, false, 0, 0),
		FIELD(struct spec_process, "noNewPrivileges", F_BOOL, no_new_privileges, false, 0, 0),
		FIELD(struct spec_process, "apparmorProfile", F_STR, apparmor_profile, false, 0, 0),
		FIELD(struct spec_process, "selinuxLabel", F_STR, selinux_label, false, 0, 0),
		FIELD(struct spec_process, "oomScoreAdj", F_OPT_I64, oom_score_adj, false, -1000, 1000),
	};
	static const struct field console_fields[] = {
		FIELD(struct spec_process, "height", F_U32, console_height, true, 0, UINT32_MAX),
		FIELD(struct spec_process, "width", F_U32, console_width, true, 0, UINT32_MAX),
	};

	if (parse_fields(c, v, p, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "consoleSize", false, parse_fields, p, console_fields, ARRAY_SIZE(console_fields)) < 0 ||
	    MEMBER(c, v, "user", false, parse_user, &p->user) < 0 ||
	    MEMBER(c, v, "args", true, val_nonempty_strv, &p->args, &p->n_args) < 0 ||
	    MEMBER(c, v, "env", false, val_strv, check_env, &p->env, &p->n_env) < 0 ||
	    MEMBER(c, v, "cwd", true, val_abs_path, &p->cwd) < 0 ||
	    MEMBER(c, v, "capabilities", false, parse_caps, &p->caps) < 0 ||
	    MEMBER(c, v, "rlimits", false, parse_rlimits, &p->rlimits, &p->n_rlimits) < 0 ||
	    MEMBER(c, v, "ioPriority", false, parse_io_priority, &p->io_priority) < 0 ||
	    MEMBER(c, v, "scheduler", false, parse_scheduler, &p->scheduler) < 0)
		return -1;
	p->has_console_size = member(v, "consoleSize") != NULL;
	return 0;
}

/* ---- root, mounts, hooks, annotations ---------------------------------- */

static int parse_mount(struct pctx *c, json_t *v, struct spec_mount *m)
{
	static const struct field fields[] = {
		FIELD(struct spec_mount, "type", F_STR, type, false, 0, 0),
		FIELD(struct spec_mount, "source", F_STR, source, false, 0, 0),
	};

	if (parse_fields(c, v, m, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "destination", true, val_container_path, &m->destination) < 0 ||
	    MEMBER(c, v, "options", false, val_strv, NULL, &m->options, &m->n_options) < 0 ||
	    MEMBER(c, v, "uidMappings", false, val_idmaps, &m->uid_mappings, &m->n_uid_mappings) < 0 ||
	    MEMBER(c, v, "gidMappings", false, val_idmaps, &m->gid_mappings, &m->n_gid_mappings) < 0)
		return -1;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_mounts, struct spec_mount, parse_mount)

static int parse_hook(struct pctx *c, json_t *v, struct spec_hook *h)
{
	static const struct field fields[] = {
		FIELD(struct spec_hook, "timeout", F_OPT_I64, timeout, false, 1, INT64_MAX),
	};

	if (parse_fields(c, v, h, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "path", true, val_abs_path, &h->path) < 0 ||
	    MEMBER(c, v, "args", false, val_strv, NULL, &h->args, NULL) < 0 ||
	    MEMBER(c, v, "env", false, val_strv, check_env, &h->env, NULL) < 0)
		return -1;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_hook_list, struct spec_hook, parse_hook)

static int parse_hooks(struct pctx *c, json_t *v, struct spec_hooks *hooks)
{
	int k;

	if (val_object(c, v) < 0)
		return -1;
	for (k = 0; k < SPEC_HOOK_KIND_COUNT; k++)
		if (MEMBER(c, v, hook_kind_keys[k], false, parse_hook_list, &hooks->hooks[k], &hooks->n_hooks[k]) < 0)
			return -1;
	return 0;
}

/* ---- linux ------------------------------------------------------------- */

static const struct spec_name propagation_names[] = {
	{"shared", MS_SHARED},
	{"slave", MS_SLAVE},
	{"private", MS_PRIVATE},
	{"unbindable", MS_UNBINDABLE},
	{"rshared", MS_SHARED | MS_REC},
	{"rslave", MS_SLAVE | MS_REC},
	{"rprivate", MS_PRIVATE | MS_REC},
	{"runbindable", MS_UNBINDABLE | MS_REC},
};

static const struct spec_name personality_names[] = {
	{"LINUX", PER_LINUX},
	{"LINUX32", PER_LINUX32},
};

static const struct spec_name clock_names[] = {
	{"monotonic", CLOCK_MONOTONIC},
	{"boottime", CLOCK_BOOTTIME},
};

static const struct spec_name seccomp_action_names[] = {
	{"SCMP_ACT_KILL", SPEC_SCMP_KILL},
	{"SCMP_ACT_KILL_PROCESS", SPEC_SCMP_KILL_PROCESS},
	{"SCMP_ACT_KILL_THREAD", SPEC_SCMP_KILL_THREAD},
	{"SCMP_ACT_TRAP", SPEC_SCMP_TRAP},
	{"SCMP_ACT_ERRNO", SPEC_SCMP_ERRNO},
	{"SCMP_ACT_TRACE", SPEC_SCMP_TRACE},
	{"SCMP_ACT_ALLOW", SPEC_SCMP_ALLOW},
	{"SCMP_ACT_LOG", SPEC_SCMP_LOG},
	{"SCMP_ACT_NOTIFY", SPEC_SCMP_NOTIFY},
};

static const struct spec_name seccomp_op_names[] = {
	{"SCMP_CMP_NE", SPEC_SCMP_CMP_NE},
	{"SCMP_CMP_LT", SPEC_SCMP_CMP_LT},
	{"SCMP_CMP_LE", SPEC_SCMP_CMP_LE},
	{"SCMP_CMP_EQ", SPEC_SCMP_CMP_EQ},
	{"SCMP_CMP_GE", SPEC_SCMP_CMP_GE},
	{"SCMP_CMP_GT", SPEC_SCMP_CMP_GT},
	{"SCMP_CMP_MASKED_EQ", SPEC_SCMP_CMP_MASKED_EQ},
};

/* A one-letter string out of ALLOWED; EMPTY (if not '\0') stands for "". */
static int val_char(struct pctx *c, json_t *v, const char *allowed, char empty, const char *what, char *ret)
{
	const char *s;

	if (val_cstr(c, v, &s) < 0)
		return -1;
	if (s[0] == '\0' && empty != '\0') {
		*ret = empty;
		return 0;
	}
	if (s[0] == '\0' || s[1] != '\0' || strchr(allowed, s[0]) == NULL)
		return spec_fail(c, "unknown %s `%.200s`", what, s);
	*ret = s[0];
	return 0;
}

static int val_ns_path(struct pctx *c, json_t *v, char **ret)
{
	if (val_str(c, v, ret) < 0)
		return -1;
	/* "" is what a Go struct without omitempty writes for "no path". */
	if (**ret == '\0') {
		*ret = NULL;
		return 0;
	}
	return check_abs(c, *ret);
}

static int parse_namespace(struct pctx *c, json_t *v, struct spec_namespace *ns)
{
	long type;

	if (val_object(c, v) < 0 ||
	    MEMBER(c, v, "type", true, val_enum, namespace_names, ARRAY_SIZE(namespace_names), "namespace type",
		   &type) < 0 ||
	    MEMBER(c, v, "path", false, val_ns_path, &ns->path) < 0)
		return -1;
	ns->type = (int)type;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_namespace_list, struct spec_namespace, parse_namespace)

static int parse_namespaces(struct pctx *c, json_t *v, struct spec_namespace **ret, size_t *ret_n)
{
	size_t i, j;

	if (parse_namespace_list(c, v, ret, ret_n) < 0)
		return -1;
	/* Quadratic, but a duplicate among 8 types shows up by entry 9. */
	for (i = 1; i < *ret_n; i++)
		for (j = 0; j < i; j++)
			if ((*ret)[i].type == (*ret)[j].type)
				return AT(c, path_push(c, "[%zu].type", i),
					  spec_fail(c, "duplicate namespace type `%s`",
						    spec_namespace_type_name((*ret)[i].type)));
	return 0;
}

static int parse_time_offsets(struct pctx *c, json_t *v, struct spec_linux *l)
{
	static const struct field fields[] = {
		FIELD(struct spec_time_offset, "secs", F_I64, secs, false, INT64_MIN, INT64_MAX),
		FIELD(struct spec_time_offset, "nanosecs", F_U32, nanosecs, false, 0, 999999999),
	};
	const char *key;
	json_t *value;
	long clock;

	if (val_object(c, v) < 0)
		return -1;
	/* Keys are unique (JSON_REJECT_DUPLICATES), so at most two pass. */
	json_object_foreach (v, key, value) {
		struct spec_time_offset *t = &l->time_offsets[l->n_time_offsets];

		if (spec_name_lookup(clock_names, ARRAY_SIZE(clock_names), key, &clock) < 0)
			return spec_fail(c, "unknown clock `%.200s`", key);
		t->clock = (int)clock;
		if (AT_KEY(c, key, parse_fields(c, value, t, fields, ARRAY_SIZE(fields))) < 0)
			return -1;
		l->n_time_offsets++;
	}
	return 0;
}

static int parse_device(struct pctx *c, json_t *v, struct spec_device *d)
{
	static const struct field fields[] = {
		FIELD(struct spec_device, "fileMode", F_OPT_U64, file_mode, false, 0, UINT32_MAX),
		FIELD(struct spec_device, "uid", F_OPT_U64, uid, false, 0, UINT32_MAX),
		FIELD(struct spec_device, "gid", F_OPT_U64, gid, false, 0, UINT32_MAX),
	};
	bool numbered;

	if (parse_fields(c, v, d, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "path", true, val_container_path, &d->path) < 0 ||
	    MEMBER(c, v, "type", true, val_char, "cbup", '\0', "device type", &d->type) < 0)
		return -1;
	/* A fifo has no device number; the others cannot be made without. */
	numbered = d->type != 'p';
	if (MEMBER(c, v, "major", numbered, val_i64, 0, UINT32_MAX, &d->major) < 0 ||
	    MEMBER(c, v, "minor", numbered, val_i64, 0, UINT32_MAX, &d->minor) < 0)
		return -1;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_devices, struct spec_device, parse_device)

/* ---- linux.resources --------------------------------------------------- */

static int parse_device_rule(struct pctx *c, json_t *v, struct spec_device_rule *r)
{
	/* -1 is how some writers spell the wildcard that absence means. */
	static const struct field fields[] = {
		FIELD(struct spec_device_rule, "allow", F_BOOL, allow, true, 0, 0),
		FIELD(struct spec_device_rule, "major", F_OPT_I64, major, false, -1, INT64_MAX),
		FIELD(struct spec_device_rule, "minor", F_OPT_I64, minor, false, -1, INT64_MAX),
		FIELD(struct spec_device_rule, "access", F_STR, access, false, 0, 0),
	};

	r->type = 'a';
	if (parse_fields(c, v, r, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "type", false, val_char, "acb", 'a', "device rule type", &r->type) < 0)
		return -1;
	if (r->access != NULL && r->access[strspn(r->access, "rwm")] != '\0')
		return AT_KEY(c, "access", spec_fail(c, "`%.200s` is not a combination of r, w, m", r->access));
	return 0;
}

DEFINE_ARRAY_PARSER(parse_device_rules, struct spec_device_rule, parse_device_rule)

static int parse_memory(struct pctx *c, json_t *v, struct spec_resources *r)
{
	static const struct field fields[] = {
#define MEM(key, kind, m) FIELD(struct spec_resources, key, kind, memory.m, false, INT64_MIN, INT64_MAX)
		MEM("limit", F_OPT_I64, limit),
		MEM("reservation", F_OPT_I64, reservation),
		MEM("swap", F_OPT_I64, swap),
		MEM("kernel", F_OPT_I64, kernel),
		MEM("kernelTCP", F_OPT_I64, kernel_tcp),
		MEM("disableOOMKiller", F_BOOL, disable_oom_killer),
		MEM("checkBeforeUpdate", F_BOOL, check_before_update),
#undef MEM
		FIELD(struct spec_resources, "swappiness", F_OPT_U64, memory.swappiness, false, 0, UINT64_MAX),
	};
	bool use_hierarchy = false;

	if (parse_fields(c, v, r, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "useHierarchy", false, val_bool, &use_hierarchy) < 0)
		return -1;
	if (member(v, "useHierarchy") != NULL) {
		r->memory.use_hierarchy.set = true;
		r->memory.use_hierarchy.v = use_hierarchy;
	}
	return 0;
}

static const struct field cpu_fields[] = {
#define CPU(key, kind, m, max) FIELD(struct spec_resources, key, kind, cpu.m, false, INT64_MIN, max)
	CPU("shares", F_OPT_U64, shares, UINT64_MAX),
	CPU("quota", F_OPT_I64, quota, INT64_MAX),
	CPU("burst", F_OPT_U64, burst, UINT64_MAX),
	CPU("period", F_OPT_U64, period, UINT64_MAX),
	CPU("realtimeRuntime", F_OPT_I64, realtime_runtime, INT64_MAX),
	CPU("realtimePeriod", F_OPT_U64, realtime_period, UINT64_MAX),
	CPU("idle", F_OPT_I64, idle, INT64_MAX),
	CPU("cpus", F_STR, cpus, 0),
	CPU("mems", F_STR, mems, 0),
#undef CPU
};

static const struct field pids_fields[] = {
	FIELD(struct spec_resources, "limit", F_OPT_I64, pids.limit, false, INT64_MIN, INT64_MAX),
};

static int parse_weight_device(struct pctx *c, json_t *v, struct spec_blkio_weight_device *w)
{
	static const struct field fields[] = {
		FIELD(struct spec_blkio_weight_device, "major", F_I64, major, true, 0, UINT32_MAX),
		FIELD(struct spec_blkio_weight_device, "minor", F_I64, minor, true, 0, UINT32_MAX),
#define W(key, m) FIELD(struct spec_blkio_weight_device, key, F_OPT_U64, m, false, 0, UINT16_MAX)
		W("weight", weight),
		W("leafWeight", leaf_weight),
#undef W
	};

	return parse_fields(c, v, w, fields, ARRAY_SIZE(fields));
}

static int parse_throttle(struct pctx *c, json_t *v, struct spec_blkio_throttle *t)
{
	static const struct field fields[] = {
		FIELD(struct spec_blkio_throttle, "major", F_I64, major, true, 0, UINT32_MAX),
		FIELD(struct spec_blkio_throttle, "minor", F_I64, minor, true, 0, UINT32_MAX),
		FIELD(struct spec_blkio_throttle, "rate", F_U64, rate, true, 0, UINT64_MAX),
	};

	return parse_fields(c, v, t, fields, ARRAY_SIZE(fields));
}

DEFINE_ARRAY_PARSER(parse_weight_devices, struct spec_blkio_weight_device, parse_weight_device)
DEFINE_ARRAY_PARSER(parse_throttles, struct spec_blkio_throttle, parse_throttle)

static int parse_block_io(struct pctx *c, json_t *v, struct spec_resources *r)
{
	static const struct field fields[] = {
#define W(key, m) FIELD(struct spec_resources, key, F_OPT_U64, block_io.m, false, 0, UINT16_MAX)
		W("weight", weight),
		W("leafWeight", leaf_weight),
#undef W
	};
	typeof(r->block_io) *b = &r->block_io;

	if (parse_fields(c, v, r, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "weightDevice", false, parse_weight_devices, &b->weight_device, &b->n_weight_device) < 0 ||
	    MEMBER(c, v, "throttleReadBpsDevice", false, parse_throttles, &b->throttle_read_bps,
		   &b->n_throttle_read_bps) < 0 ||
	    MEMBER(c, v, "throttleWriteBpsDevice", false, parse_throttles, &b->throttle_write_bps,
		   &b->n_throttle_write_bps) < 0 ||
	    MEMBER(c, v, "throttleReadIOPSDevice", false, parse_throttles, &b->throttle_read_iops,
		   &b->n_throttle_read_iops) < 0 ||
	    MEMBER(c, v, "throttleWriteIOPSDevice", false, parse_throttles, &b->throttle_write_iops,
		   &b->n_throttle_write_iops) < 0)
		return -1;
	return 0;
}

static int parse_hugepage_limit(struct pctx *c, json_t *v, struct spec_hugepage_limit *h)
{
	static const struct field fields[] = {
		FIELD(struct spec_hugepage_limit, "pageSize", F_STR, page_size, true, 0, 0),
		FIELD(struct spec_hugepage_limit, "limit", F_U64, limit, true, 0, UINT64_MAX),
	};

	return parse_fields(c, v, h, fields, ARRAY_SIZE(fields));
}

DEFINE_ARRAY_PARSER(parse_hugepage_limits, struct spec_hugepage_limit, parse_hugepage_limit)

/* Only the presence of priorities is kept (cgroup v1 net_prio, which a
 * rootless runtime cannot set); the entries are still checked. */
struct net_priority {
	char *name;
	uint32_t priority;
};

static int parse_net_priority(struct pctx *c, json_t *v, struct net_priority *p)
{
	static const struct field fields[] = {
		FIELD(struct net_priority, "name", F_STR, name, true, 0, 0),
		FIELD(struct net_priority, "priority", F_U32, priority, true, 0, UINT32_MAX),
	};

	return parse_fields(c, v, p, fields, ARRAY_SIZE(fields));
}

DEFINE_ARRAY_PARSER(parse_net_priorities, struct net_priority, parse_net_priority)

static int parse_network(struct pctx *c, json_t *v, struct spec_resources *r)
{
	static const struct field fields[] = {
		FIELD(struct spec_resources, "classID", F_OPT_U64, network.class_id, false, 0, UINT32_MAX),
	};
	struct net_priority *prio;
	size_t n_prio;

	if (parse_fields(c, v, r, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "priorities", false, parse_net_priorities, &prio, &n_prio) < 0)
		return -1;
	r->network.has_priorities = member(v, "priorities") != NULL;
	return 0;
}

static int parse_resources(struct pctx *c, json_t *v, struct spec_resources **ret)
{
	struct spec_resources *r = arena_alloc(c->arena, sizeof(*r));

	if (val_object(c, v) < 0 ||
	    MEMBER(c, v, "devices", false, parse_device_rules, &r->devices, &r->n_devices) < 0 ||
	    MEMBER(c, v, "memory", false, parse_memory, r) < 0 ||
	    MEMBER(c, v, "cpu", false, parse_fields, r, cpu_fields, ARRAY_SIZE(cpu_fields)) < 0 ||
	    MEMBER(c, v, "pids", false, parse_fields, r, pids_fields, ARRAY_SIZE(pids_fields)) < 0 ||
	    MEMBER(c, v, "blockIO", false, parse_block_io, r) < 0 ||
	    MEMBER(c, v, "hugepageLimits", false, parse_hugepage_limits, &r->hugepage_limits, &r->n_hugepage_limits) <
		    0 ||
	    MEMBER(c, v, "network", false, parse_network, r) < 0 || MEMBER(c, v, "rdma", false, val_object) < 0 ||
	    MEMBER(c, v, "unified", false, val_kv, &r->unified, &r->n_unified) < 0)
		return -1;
	r->has_rdma = member(v, "rdma") != NULL;
	*ret = r;
	return 0;
}

/* ---- linux.seccomp ----------------------------------------------------- */

static int parse_seccomp_arg(struct pctx *c, json_t *v, struct spec_seccomp_arg *a)
{
	static const struct field fields[] = {
		FIELD(struct spec_seccomp_arg, "index", F_U32, index, true, 0, 5),
		FIELD(struct spec_seccomp_arg, "value", F_U64, value, true, 0, UINT64_MAX),
		FIELD(struct spec_seccomp_arg, "valueTwo", F_U64, value_two, false, 0, UINT64_MAX),
	};
	long op;

	if (parse_fields(c, v, a, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "op", true, val_enum, seccomp_op_names, ARRAY_SIZE(seccomp_op_names), "seccomp operator",
		   &op) < 0)
		return -1;
	a->op = (enum spec_seccomp_op)op;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_seccomp_args, struct spec_seccomp_arg, parse_seccomp_arg)

static int val_seccomp_action(struct pctx *c, json_t *v, enum spec_seccomp_action *ret)
{
	long action;

	if (val_enum(c, v, seccomp_action_names, ARRAY_SIZE(seccomp_action_names), "seccomp action", &action) < 0)
		return -1;
	*ret = (enum spec_seccomp_action)action;
	return 0;
}

static int parse_syscall(struct pctx *c, json_t *v, struct spec_seccomp_syscall *s)
{
	static const struct field fields[] = {
		FIELD(struct spec_seccomp_syscall, "errnoRet", F_OPT_U64, errno_ret, false, 0, UINT32_MAX),
	};

	if (parse_fields(c, v, s, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "names", true, val_nonempty_strv, &s->names, &s->n_names) < 0 ||
	    MEMBER(c, v, "action", true, val_seccomp_action, &s->action) < 0 ||
	    MEMBER(c, v, "args", false, parse_seccomp_args, &s->args, &s->n_args) < 0)
		return -1;
	return 0;
}

DEFINE_ARRAY_PARSER(parse_syscalls, struct spec_seccomp_syscall, parse_syscall)

static int parse_seccomp(struct pctx *c, json_t *v, struct spec_seccomp **ret)
{
	static const struct field fields[] = {
		FIELD(struct spec_seccomp, "defaultErrnoRet", F_OPT_U64, default_errno_ret, false, 0, UINT32_MAX),
		FIELD(struct spec_seccomp, "listenerPath", F_STR, listener_path, false, 0, 0),
		FIELD(struct spec_seccomp, "listenerMetadata", F_STR, listener_metadata, false, 0, 0),
	};
	struct spec_seccomp *s = arena_alloc(c->arena, sizeof(*s));

	if (parse_fields(c, v, s, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "defaultAction", true, val_seccomp_action, &s->default_action) < 0 ||
	    MEMBER(c, v, "architectures", false, val_strv, NULL, &s->architectures, &s->n_architectures) < 0 ||
	    MEMBER(c, v, "flags", false, val_strv, NULL, &s->flags, &s->n_flags) < 0 ||
	    MEMBER(c, v, "syscalls", false, parse_syscalls, &s->syscalls, &s->n_syscalls) < 0)
		return -1;
	*ret = s;
	return 0;
}

/* ---- linux ------------------------------------------------------------- */

static int val_propagation(struct pctx *c, json_t *v, struct spec_linux *l)
{
	const char *s;
	long flags;

	if (val_cstr(c, v, &s) < 0)
		return -1;
	if (s[0] == '\0')
		return 0; /* "" is "not set" (Go writes it) */
	if (val_enum(c, v, propagation_names, ARRAY_SIZE(propagation_names), "rootfs propagation", &flags) < 0)
		return -1;
	l->has_rootfs_propagation = true;
	l->rootfs_propagation = (unsigned long)flags;
	return 0;
}

static int parse_personality(struct pctx *c, json_t *v, struct opt_u64 *ret)
{
	char **flags;
	long domain;

	/* No flag is defined yet; the names are only checked to be strings. */
	if (val_object(c, v) < 0 ||
	    MEMBER(c, v, "domain", true, val_enum, personality_names, ARRAY_SIZE(personality_names),
		   "personality domain", &domain) < 0 ||
	    MEMBER(c, v, "flags", false, val_strv, NULL, &flags, NULL) < 0)
		return -1;
	ret->set = true;
	ret->v = (uint64_t)domain;
	return 0;
}

static int parse_linux(struct pctx *c, json_t *v, struct spec_linux **ret)
{
	static const struct field fields[] = {
		FIELD(struct spec_linux, "cgroupsPath", F_STR, cgroups_path, false, 0, 0),
		FIELD(struct spec_linux, "mountLabel", F_STR, mount_label, false, 0, 0),
	};
	struct spec_linux *l = arena_alloc(c->arena, sizeof(*l));

	if (parse_fields(c, v, l, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "namespaces", false, parse_namespaces, &l->namespaces, &l->n_namespaces) < 0 ||
	    MEMBER(c, v, "uidMappings", false, val_idmaps, &l->uid_mappings, &l->n_uid_mappings) < 0 ||
	    MEMBER(c, v, "gidMappings", false, val_idmaps, &l->gid_mappings, &l->n_gid_mappings) < 0 ||
	    MEMBER(c, v, "timeOffsets", false, parse_time_offsets, l) < 0 ||
	    MEMBER(c, v, "devices", false, parse_devices, &l->devices, &l->n_devices) < 0 ||
	    MEMBER(c, v, "resources", false, parse_resources, &l->resources) < 0 ||
	    MEMBER(c, v, "sysctl", false, val_kv, &l->sysctl, &l->n_sysctl) < 0 ||
	    MEMBER(c, v, "seccomp", false, parse_seccomp, &l->seccomp) < 0 ||
	    MEMBER(c, v, "rootfsPropagation", false, val_propagation, l) < 0 ||
	    MEMBER(c, v, "maskedPaths", false, val_strv, check_abs, &l->masked_paths, &l->n_masked_paths) < 0 ||
	    MEMBER(c, v, "readonlyPaths", false, val_strv, check_abs, &l->readonly_paths, &l->n_readonly_paths) < 0 ||
	    MEMBER(c, v, "personality", false, parse_personality, &l->personality_domain) < 0)
		return -1;
	*ret = l;
	return 0;
}

static int parse_process_alloc(struct pctx *c, json_t *v, struct spec_process **ret)
{
	*ret = arena_alloc(c->arena, sizeof(**ret));
	return parse_process(c, v, *ret);
}

static int parse_spec(struct pctx *c, json_t *v, struct spec *s)
{
	static const struct field fields[] = {
		FIELD(struct spec, "ociVersion", F_STR, oci_version, true, 0, 0),
		FIELD(struct spec, "hostname", F_STR, hostname, false, 0, 0),
		FIELD(struct spec, "domainname", F_STR, domainname, false, 0, 0),
	};
	static const struct field root_fields[] = {
		FIELD(struct spec, "path", F_STR, root_path, true, 0, 0),
		FIELD(struct spec, "readonly", F_BOOL, root_readonly, false, 0, 0),
	};

	if (parse_fields(c, v, s, fields, ARRAY_SIZE(fields)) < 0 ||
	    MEMBER(c, v, "root", false, parse_fields, s, root_fields, ARRAY_SIZE(root_fields)) < 0 ||
	    MEMBER(c, v, "mounts", false, parse_mounts, &s->mounts, &s->n_mounts) < 0 ||
	    MEMBER(c, v, "process", false, parse_process_alloc, &s->process) < 0 ||
	    MEMBER(c, v, "hooks", false, parse_hooks, &s->hooks) < 0 ||
	    MEMBER(c, v, "annotations", false, val_kv, &s->annotations, &s->n_annotations) < 0 ||
	    MEMBER(c, v, "linux", false, parse_linux, &s->linux_) < 0)
		return -1;
	return 0;
}

/* ---- public API -------------------------------------------------------- */

int spec_parse(const char *buf, size_t len, const char *origin, struct spec **ret, struct ocr_error *err)
{
	__attribute__((cleanup(arena_freep))) struct arena *a = arena_new();
	json_auto_t *root = NULL;
	struct pctx c = {.arena = a, .origin = origin, .err = err};
	struct spec *s;

	if (load_json(buf, len, origin, &root, err) < 0)
		return -1;
	s = arena_alloc(a, sizeof(*s));
	if (parse_spec(&c, root, s) < 0)
		return -1;
	s->arena = steal_pointer(&a);
	*ret = s;
	return 0;
}

int spec_load(const char *bundle, struct spec **ret, struct ocr_error *err)
{
	return spec_load_keep(bundle, ret, NULL, NULL, err);
}

int spec_read_config(const char *bundle, char **ret, size_t *ret_len, struct ocr_error *err)
{
	cleanup_close int dirfd = -1;
	cleanup_close int fd = -1;
	char path[64];
	struct stat st;

	dirfd = TEMP_FAILURE_RETRY(open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (dirfd < 0)
		return ocr_fail_errno(err, "bundle `%s`", bundle);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = TEMP_FAILURE_RETRY(openat(dirfd, "config.json", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
	if (fd < 0)
		return ocr_fail_errno(err, "bundle `%s`: open `config.json`", bundle);
	if (fstat(fd, &st) < 0)
		return ocr_fail_errno(err, "bundle `%s`: stat `config.json`", bundle);
	if (!S_ISREG(st.st_mode))
		return ocr_fail(err, EINVAL, "bundle `%s`: config.json is not a regular file", bundle);
	/* Refused before reading a byte of it; a file that grows while it is
	 * read gets the same message. */
	if (st.st_size > (off_t)SPEC_MAX_FILE_SIZE)
		return ocr_fail(err, EFBIG, "config.json: file is larger than %u MiB",
				SPEC_MAX_FILE_SIZE / (1024u * 1024u));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (read_file_at(AT_FDCWD, path, SPEC_MAX_FILE_SIZE, ret, ret_len, err) < 0) {
		if (err != NULL && err->err == EFBIG)
			return ocr_fail(err, EFBIG, "config.json: file is larger than %u MiB",
					SPEC_MAX_FILE_SIZE / (1024u * 1024u));
		return ocr_wrap(err, "bundle `%s`: config.json", bundle);
	}
	return 0;
}

int spec_load_keep(const char *bundle, struct spec **ret, char **ret_buf, size_t *ret_len, struct ocr_error *err)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (spec_read_config(bundle, &buf, &len, err) < 0)
		return -1;
	if (spec_parse(buf, len, "config.json", ret, err) < 0)
		return -1;
	if (ret_buf) {
		*ret_buf = steal_pointer(&buf);
		*ret_len = len;
	}
	return 0;
}

int spec_parse_process(const char *buf, size_t len, const char *origin, struct spec_process **ret, void **ret_arena,
		       struct ocr_error *err)
{
	__attribute__((cleanup(arena_freep))) struct arena *a = arena_new();
	json_auto_t *root = NULL;
	struct pctx c = {.arena = a, .origin = origin, .err = err};
	struct spec_process *p;

	if (load_json(buf, len, origin, &root, err) < 0)
		return -1;
	p = arena_alloc(a, sizeof(*p));
	if (parse_process(&c, root, p) < 0)
		return -1;
	*ret = p;
	*ret_arena = steal_pointer(&a);
	return 0;
}

int spec_parse_resources(const char *buf, size_t len, const char *origin, struct spec_resources **ret, void **ret_arena,
			 struct ocr_error *err)
{
	__attribute__((cleanup(arena_freep))) struct arena *a = arena_new();
	json_auto_t *root = NULL;
	struct pctx c = {.arena = a, .origin = origin, .err = err};

	if (load_json(buf, len, origin, &root, err) < 0)
		return -1;
	if (parse_resources(&c, root, ret) < 0)
		return -1;
	*ret_arena = steal_pointer(&a);
	return 0;
}

void spec_free(struct spec *spec)
{
	if (spec != NULL)
		spec_arena_free(spec->arena);
}

const struct spec_namespace *spec_namespace(const struct spec *spec, int type)
{
	size_t i;

	if (spec == NULL || spec->linux_ == NULL)
		return NULL;
	for (i = 0; i < spec->linux_->n_namespaces; i++)
		if (spec->linux_->namespaces[i].type == type)
			return &spec->linux_->namespaces[i];
	return NULL;
}

const char *spec_annotation(const struct spec *spec, const char *key)
{
	size_t i;

	if (spec == NULL)
		return NULL;
	for (i = 0; i < spec->n_annotations; i++)
		if (strcmp(spec->annotations[i].key, key) == 0)
			return spec->annotations[i].value;
	return NULL;
}
