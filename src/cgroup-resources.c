#include "cgroup-resources.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "utils.h"

/* Upper bounds on what a config can make us build. */
#define CG_MAX_CPUS 8192
#define CG_MAX_UNIFIED_VALUE 4096

static const struct {
	unsigned bit;
	const char *name;
} controller_names[] = {
	{CG_CPU, "cpu"},   {CG_CPUSET, "cpuset"},   {CG_IO, "io"},     {CG_MEMORY, "memory"},
	{CG_PIDS, "pids"}, {CG_HUGETLB, "hugetlb"}, {CG_RDMA, "rdma"}, {CG_MISC, "misc"},
};

const char *cg_controller_name(unsigned bit)
{
	for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++)
		if (controller_names[i].bit == bit)
			return controller_names[i].name;
	return "?";
}

unsigned cg_controller_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++)
		if (strlen(controller_names[i].name) == len && memcmp(controller_names[i].name, name, len) == 0)
			return controller_names[i].bit;
	return 0;
}

unsigned cg_controllers_parse(const char *list)
{
	unsigned bits = 0;
	const char *p = list;

	while (p && *p) {
		size_t n;
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == 0)
			break;
		bits |= cg_controller_from_name(p, n);
		p += n;
	}
	return bits;
}

char *cg_controllers_format(unsigned bits)
{
	char buf[128] = "";

	for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++) {
		if (!(bits & controller_names[i].bit))
			continue;
		if (buf[0])
			strcat(buf, ", ");
		strcat(buf, controller_names[i].name);
	}
	return xstrdup(buf);
}

uint64_t cg_shares_to_weight(uint64_t shares)
{
	double l, exponent;

	/* 0 means unset; the range ends map to the range ends. In between,
	 * the quadratic (in log2) fit that runc (opencontainers/cgroups) and
	 * crun use since 2025: 2 -> 1, 1024 -> 100, 262144 -> 10000, so the
	 * default shares give the default weight. */
	if (shares == 0)
		return 0;
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	l = log2((double)shares);
	exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
	return (uint64_t)ceil(pow(10, exponent));
}

uint64_t cg_blkio_weight_to_io(uint64_t weight)
{
	/* Linear 10..1000 -> 1..10000, as runc and crun convert it. */
	if (weight == 0)
		return 0;
	if (weight <= 10)
		return 1;
	if (weight >= 1000)
		return 10000;
	return 1 + (weight - 10) * 9999 / 990;
}

int cg_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret, struct ocr_error *err)
{
	/* runc: memory -1 with swap unset means both unlimited; swap 0 is
	 * unset and -1 unlimited; else v1's memory+swap minus memory. */
	if (limit == -1 && swap == 0) {
		*ret = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*ret = swap;
		return 0;
	}
	if (swap < -1)
		return ocr_fail(err, EINVAL,
				"linux.resources.memory.swap: %" PRId64 " is not a limit (use -1 for unlimited)", swap);
	if (limit == 0 || limit == -1)
		return ocr_fail(
			err, EINVAL,
			"linux.resources.memory.swap: a swap limit needs a memory limit (set memory.limit too)");
	if (limit < 0)
		return ocr_fail(err, EINVAL, "linux.resources.memory.limit: %" PRId64 " is not a limit", limit);
	if (swap < limit)
		return ocr_fail(err, EINVAL,
				"linux.resources.memory.swap: %" PRId64 " is below memory.limit %" PRId64
				" (swap is memory+swap, so it must be >= the memory limit)",
				swap, limit);
	*ret = swap - limit;
	return 0;
}

int cg_unified_key_check(const char *key, unsigned *ret_controller, struct ocr_error *err)
{
	const char *dot = strchr(key, '.');
	unsigned c;

	if (strchr(key, '/') != NULL || strstr(key, "..") != NULL)
		return ocr_fail(err, EINVAL,
				"linux.resources.unified: key `%.200s` must be a file name (no `/`, no `..`)", key);
	if (key[strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.")] != '\0' || dot == NULL || dot == key ||
	    dot[1] == '\0')
		return ocr_fail(err, EINVAL,
				"linux.resources.unified: key `%.200s` is not of the form <controller>.<file> "
				"(e.g. memory.high)",
				key);
	if ((size_t)(dot - key) == strlen("cgroup") && memcmp(key, "cgroup", 6) == 0) {
		if (strcmp(key, "cgroup.max.depth") != 0 && strcmp(key, "cgroup.max.descendants") != 0)
			return ocr_fail(
				err, EINVAL,
				"linux.resources.unified: `%s` is managed by the runtime "
				"(of the cgroup.* files only cgroup.max.depth and cgroup.max.descendants may be set)",
				key);
		*ret_controller = 0;
		return 0;
	}
	c = cg_controller_from_name(key, (size_t)(dot - key));
	if (c == 0)
		return ocr_fail(err, EINVAL, "linux.resources.unified: key `%.200s`: unknown controller `%.*s`", key,
				(int)(dot - key), key);
	*ret_controller = c;
	return 0;
}

/* ---- building a plan --------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static void add_write(struct cg_plan *p, const char *file, unsigned controller,
							    const char *field, const char *fmt, ...)
{
	struct cg_write *w;
	va_list ap;

	p->writes = xrealloc(p->writes, (p->n_writes + 1) * sizeof(*p->writes));
	w = &p->writes[p->n_writes++];
	w->file = xstrdup(file);
	w->field = xasprintf("linux.resources.%s", field);
	w->controller = controller;
	va_start(ap, fmt);
	if (vasprintf(&w->value, fmt, ap) < 0)
		w->value = xstrdup("");
	va_end(ap);
	p->controllers |= controller;
}

static void add_ignored(struct cg_plan *p, const char *field)
{
	p->ignored = xrealloc(p->ignored, (p->n_ignored + 1) * sizeof(*p->ignored));
	p->ignored[p->n_ignored++] = xstrdup(field);
}

/* "max" or the number, for limits where -1 (any negative) is unlimited. */
static void add_limit(struct cg_plan *p, const char *file, unsigned controller, const char *field, int64_t v)
{
	if (v < 0)
		add_write(p, file, controller, field, "max");
	else
		add_write(p, file, controller, field, "%" PRId64, v);
}

/* The current memory.max as a number (-1 for "max", 0 unknown). */
static int64_t current_memory_limit(const struct cg_current *cur)
{
	char buf[32];
	uint64_t v;

	if (cur == NULL || cur->memory_max == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(cur->memory_max, "\n"), cur->memory_max);
	if (strcmp(buf, "max") == 0)
		return -1;
	if (parse_u64(buf, &v) == 0 && v <= INT64_MAX)
		return (int64_t)v;
	return 0;
}

static int plan_memory(const struct spec_resources *r, const struct cg_current *cur, struct cg_plan *p,
		       struct ocr_error *err)
{
	const typeof(r->memory) *m = &r->memory;

	if (m->limit.set && m->limit.v != 0)
		add_limit(p, "memory.max", CG_MEMORY, "memory.limit", m->limit.v);
	if (m->reservation.set && m->reservation.v != 0)
		add_limit(p, "memory.low", CG_MEMORY, "memory.reservation", m->reservation.v);
	if (m->swap.set || (m->limit.set && m->limit.v == -1)) {
		int64_t limit = m->limit.set ? m->limit.v : current_memory_limit(cur);
		int64_t swap = m->swap.set ? m->swap.v : 0;
		int64_t v;
		if (cg_swap_to_v2(swap, limit, &v, err) < 0)
			return -1;
		if (!(swap == 0 && v == 0))
			add_limit(p, "memory.swap.max", CG_MEMORY, "memory.swap", v);
	}
	if (m->kernel.set)
		add_ignored(p, "memory.kernel");
	if (m->kernel_tcp.set)
		add_ignored(p, "memory.kernelTCP");
	if (m->swappiness.set)
		add_ignored(p, "memory.swappiness");
	if (m->disable_oom_killer)
		add_ignored(p, "memory.disableOOMKiller");
	return 0;
}

/* The quota half of cpu.max when only the period changes. */
static void current_quota(const struct cg_current *cur, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "max");
	if (cur == NULL || cur->cpu_max == NULL)
		return;
	n = strcspn(cur->cpu_max, " \n");
	if (n > 0 && n < len) {
		memcpy(buf, cur->cpu_max, n);
		buf[n] = '\0';
	}
}

static void plan_cpu(const struct spec_resources *r, const struct cg_current *cur, struct cg_plan *p)
{
	const typeof(r->cpu) *c = &r->cpu;
	bool quota = c->quota.set && c->quota.v != 0;
	bool period = c->period.set && c->period.v != 0;

	if (c->shares.set && c->shares.v != 0)
		add_write(p, "cpu.weight", CG_CPU, "cpu.shares", "%" PRIu64, cg_shares_to_weight(c->shares.v));
	if (quota || period) {
		char q[32];
		if (quota && c->quota.v > 0)
			snprintf(q, sizeof(q), "%" PRId64, c->quota.v);
		else if (quota)
			snprintf(q, sizeof(q), "max");
		else
			current_quota(cur, q, sizeof(q));
		if (period)
			add_write(p, "cpu.max", CG_CPU, quota ? "cpu.quota" : "cpu.period", "%s %" PRIu64, q,
				  c->period.v);
		else
			add_write(p, "cpu.max", CG_CPU, "cpu.quota", "%s", q);
	}
	if (c->burst.set)
		add_write(p, "cpu.max.burst", CG_CPU, "cpu.burst", "%" PRIu64, c->burst.v);
	if (c->idle.set)
		add_write(p, "cpu.idle", CG_CPU, "cpu.idle", "%" PRId64, c->idle.v);
	if (c->realtime_runtime.set && c->realtime_runtime.v != 0)
		add_ignored(p, "cpu.realtimeRuntime");
	if (c->realtime_period.set && c->realtime_period.v != 0)
		add_ignored(p, "cpu.realtimePeriod");
	if (c->cpus && c->cpus[0])
		add_write(p, "cpuset.cpus", CG_CPUSET, "cpu.cpus", "%s", c->cpus);
	if (c->mems && c->mems[0])
		add_write(p, "cpuset.mems", CG_CPUSET, "cpu.mems", "%s", c->mems);
}

static void plan_throttles(struct cg_plan *p, const struct spec_blkio_throttle *t, size_t n, const char *key,
			   const char *field)
{
	for (size_t i = 0; i < n; i++) {
		char f[96];
		snprintf(f, sizeof(f), "blockIO.%s[%zu]", field, i);
		/* v1's 0 is "no limit". */
		if (t[i].rate == 0)
			add_write(p, "io.max", CG_IO, f, "%" PRId64 ":%" PRId64 " %s=max", t[i].major, t[i].minor, key);
		else
			add_write(p, "io.max", CG_IO, f, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t[i].major, t[i].minor,
				  key, t[i].rate);
	}
}

static void plan_block_io(const struct spec_resources *r, struct cg_plan *p)
{
	const typeof(r->block_io) *b = &r->block_io;

	if (b->weight.set && b->weight.v != 0)
		add_write(p, "io.weight", CG_IO, "blockIO.weight", "%" PRIu64, cg_blkio_weight_to_io(b->weight.v));
	if (b->leaf_weight.set)
		add_ignored(p, "blockIO.leafWeight");
	for (size_t i = 0; i < b->n_weight_device; i++) {
		const struct spec_blkio_weight_device *w = &b->weight_device[i];
		char f[64];
		if (w->weight.set) {
			snprintf(f, sizeof(f), "blockIO.weightDevice[%zu]", i);
			add_write(p, "io.weight", CG_IO, f, "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
				  cg_blkio_weight_to_io(w->weight.v));
		}
		if (w->leaf_weight.set) {
			snprintf(f, sizeof(f), "blockIO.weightDevice[%zu].leafWeight", i);
			add_ignored(p, f);
		}
	}
	plan_throttles(p, b->throttle_read_bps, b->n_throttle_read_bps, "rbps", "throttleReadBpsDevice");
	plan_throttles(p, b->throttle_write_bps, b->n_throttle_write_bps, "wbps", "throttleWriteBpsDevice");
	plan_throttles(p, b->throttle_read_iops, b->n_throttle_read_iops, "riops", "throttleReadIOPSDevice");
	plan_throttles(p, b->throttle_write_iops, b->n_throttle_write_iops, "wiops", "throttleWriteIOPSDevice");
}

static int plan_hugepages(const struct spec_resources *r, struct cg_plan *p, struct ocr_error *err)
{
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		const char *size = r->hugepage_limits[i].page_size;
		size_t digits = strspn(size, "0123456789");
		char file[64], f[64];
		if (digits == 0 || digits > 8 || strchr("KMGT", size[digits]) == NULL || size[digits] == '\0' ||
		    strcmp(size + digits + 1, "B") != 0)
			return ocr_fail(err, EINVAL,
					"linux.resources.hugepageLimits[%zu].pageSize: `%.64s` is not a page size like "
					"2MB or 1GB",
					i, size);
		snprintf(file, sizeof(file), "hugetlb.%s.max", size);
		snprintf(f, sizeof(f), "hugepageLimits[%zu]", i);
		add_write(p, file, CG_HUGETLB, f, "%" PRIu64, r->hugepage_limits[i].limit);
	}
	return 0;
}

static int plan_unified(const struct spec_resources *r, struct cg_plan *p, struct ocr_error *err)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		const struct spec_kv *kv = &r->unified[i];
		unsigned c;
		char f[256];
		if (cg_unified_key_check(kv->key, &c, err) < 0)
			return -1;
		if (strlen(kv->value) > CG_MAX_UNIFIED_VALUE)
			return ocr_fail(err, EINVAL, "linux.resources.unified[\"%s\"]: value longer than %d bytes",
					kv->key, CG_MAX_UNIFIED_VALUE);
		snprintf(f, sizeof(f), "unified[\"%s\"]", kv->key);
		add_write(p, kv->key, c, f, "%s", kv->value);
	}
	return 0;
}

int cg_plan_build(const struct spec_resources *r, const struct cg_current *cur, struct cg_plan *ret,
		  struct ocr_error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (r == NULL)
		return 0;
	/* linux.resources.devices: a device cgroup needs eBPF, which an
	 * unprivileged user cannot load; the rootfs gets only the devices
	 * listed in linux.devices, so the rules are not a limit we drop. */
	if (plan_memory(r, cur, ret, err) < 0)
		goto fail;
	plan_cpu(r, cur, ret);
	if (r->pids.limit.set && r->pids.limit.v != 0)
		add_limit(ret, "pids.max", CG_PIDS, "pids.limit", r->pids.limit.v);
	plan_block_io(r, ret);
	if (plan_hugepages(r, ret, err) < 0)
		goto fail;
	if (r->network.class_id.set)
		add_ignored(ret, "network.classID");
	if (r->network.has_priorities)
		add_ignored(ret, "network.priorities");
	if (r->has_rdma)
		add_ignored(ret, "rdma");
	/* Last, so that unified values override the converted ones. */
	if (plan_unified(r, ret, err) < 0)
		goto fail;
	return 0;
fail:
	cg_plan_clear(ret);
	return -1;
}

void cg_plan_clear(struct cg_plan *p)
{
	for (size_t i = 0; i < p->n_writes; i++) {
		free(p->writes[i].file);
		free(p->writes[i].value);
		free(p->writes[i].field);
	}
	for (size_t i = 0; i < p->n_ignored; i++)
		free(p->ignored[i]);
	free(p->writes);
	free(p->ignored);
	memset(p, 0, sizeof(*p));
}

bool cg_plan_requested(const struct cg_plan *p)
{
	return p->n_writes > 0 || p->n_ignored > 0;
}

/* ---- systemd properties ------------------------------------------------- */

uint64_t cg_quota_per_sec(uint64_t quota, uint64_t period)
{
	unsigned __int128 v;

	if (period == 0)
		period = 100000;
	v = (unsigned __int128)quota * 1000000u / period;
	/* systemd keeps CPUQuota in 1% steps (10 ms per second): round up so
	 * the limit is never tighter than asked. */
	if (v % 10000 != 0)
		v = (v / 10000 + 1) * 10000;
	return v >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)v;
}

int cg_cpuset_to_mask(const char *list, uint8_t **ret, size_t *ret_n, struct ocr_error *err)
{
	cleanup_free uint8_t *mask = xcalloc(CG_MAX_CPUS / 8, 1);
	const char *p = list;
	size_t n = 0;

	while (*p) {
		char *end;
		unsigned long a, b;
		if (*p < '0' || *p > '9')
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				goto bad;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b >= CG_MAX_CPUS)
			goto bad;
		for (unsigned long i = a; i <= b; i++)
			mask[i / 8] |= (uint8_t)(1u << (i % 8));
		if (b / 8 + 1 > n)
			n = b / 8 + 1;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '\0' && *p != '\n')
			goto bad;
		else if (*p == '\n')
			break;
	}
	*ret = steal_pointer(&mask);
	*ret_n = n;
	return 0;
bad:
	return ocr_fail(err, EINVAL, "`%.100s` is not a cpu/memory-node list like 0-3,8 (below %d)", list, CG_MAX_CPUS);
}

static int parse_limit_value(const char *s, uint64_t *ret)
{
	if (strcmp(s, "max") == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	return parse_u64(s, ret);
}

static struct cg_property *add_prop(struct cg_property **props, size_t *n, const char *name)
{
	struct cg_property *p;

	*props = xrealloc(*props, (*n + 1) * sizeof(**props));
	p = &(*props)[(*n)++];
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->type = 't';
	return p;
}

static int cpu_max_properties(const char *value, struct cg_property **props, size_t *n, struct ocr_error *err)
{
	char quota[32] = "";
	uint64_t q, period = 0;
	int got = sscanf(value, "%31s %" SCNu64, quota, &period);

	if (got < 1 || parse_limit_value(quota, &q) < 0)
		return ocr_fail(err, EINVAL, "cpu.max: `%s` is not \"QUOTA [PERIOD]\"", value);
	if (got == 2)
		add_prop(props, n, "CPUQuotaPeriodUSec")->u = period;
	add_prop(props, n, "CPUQuotaPerSecUSec")->u = q == UINT64_MAX ? UINT64_MAX : cg_quota_per_sec(q, period);
	return 0;
}

int cg_plan_to_properties(const struct cg_plan *p, struct cg_property **ret, size_t *ret_n, struct ocr_error *err)
{
	static const struct {
		const char *file, *property;
	} simple[] = {
		{"memory.max", "MemoryMax"}, {"memory.low", "MemoryLow"}, {"memory.swap.max", "MemorySwapMax"},
		{"pids.max", "TasksMax"},    {"cpu.weight", "CPUWeight"}, {"io.weight", "IOWeight"},
	};
	struct cg_property *props = NULL;
	size_t n = 0;

	for (size_t i = 0; i < p->n_writes; i++) {
		const struct cg_write *w = &p->writes[i];
		uint64_t v;
		bool done = false;
		for (size_t k = 0; k < ARRAY_SIZE(simple) && !done; k++) {
			if (strcmp(w->file, simple[k].file) != 0)
				continue;
			done = true;
			/* Per-device io.weight lines have no simple property. */
			if (parse_limit_value(w->value, &v) == 0)
				add_prop(&props, &n, simple[k].property)->u = v;
		}
		if (done)
			continue;
		if (strcmp(w->file, "cpu.max") == 0) {
			if (cpu_max_properties(w->value, &props, &n, err) < 0)
				goto fail;
		} else if (strcmp(w->file, "cpuset.cpus") == 0 || strcmp(w->file, "cpuset.mems") == 0) {
			struct cg_property *prop;
			uint8_t *mask;
			size_t len;
			if (cg_cpuset_to_mask(w->value, &mask, &len, err) < 0) {
				ocr_wrap(err, "%s", w->field);
				goto fail;
			}
			prop = add_prop(&props, &n, w->file[7] == 'c' ? "AllowedCPUs" : "AllowedMemoryNodes");
			prop->type = 'y';
			prop->bytes = mask;
			prop->n_bytes = len;
		}
	}
	*ret = props;
	*ret_n = n;
	return 0;
fail:
	cg_properties_free(props, n);
	return -1;
}

void cg_properties_free(struct cg_property *props, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(props[i].bytes);
	free(props);
}
