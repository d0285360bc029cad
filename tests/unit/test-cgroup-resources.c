/* Unit tests of the linux.resources -> cgroup v2 conversion
 * (src/cgroup-resources.c): the values runc and crun write, the fields v2
 * cannot express, unified key checks, and the systemd properties. JSON is
 * written with single quotes; json() turns them into double quotes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-resources.h"
#include "spec.h"
#include "tap.h"
#include "utils.h"

static const char *json(const char *s)
{
	static char *buf;

	free(buf);
	buf = xstrdup(s);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	return buf;
}

/* Parse a LinuxResources object and build its plan; returns the build's
 * result (0 / -1), with ERR filled on failure. */
static int plan_of(const char *text, const struct cg_current *cur, struct cg_plan *plan, struct ocr_error *err)
{
	const char *doc = json(text);
	struct spec_resources *r = NULL;
	void *arena = NULL;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (spec_parse_resources(doc, strlen(doc), "resources.json", &r, &arena, err) < 0)
		return -2;
	rc = cg_plan_build(r, cur, plan, err);
	spec_arena_free(arena);
	return rc;
}

/* The value written to FILE (the Nth write to it, from 0), or NULL. */
static const char *written(const struct cg_plan *p, const char *file, int nth)
{
	for (size_t i = 0; i < p->n_writes; i++)
		if (strcmp(p->writes[i].file, file) == 0 && nth-- == 0)
			return p->writes[i].value;
	return NULL;
}

static bool ignored(const struct cg_plan *p, const char *field)
{
	for (size_t i = 0; i < p->n_ignored; i++)
		if (strcmp(p->ignored[i], field) == 0)
			return true;
	return false;
}

static const struct cg_property *prop(const struct cg_property *props, size_t n, const char *name)
{
	const struct cg_property *found = NULL;

	for (size_t i = 0; i < n; i++)
		if (strcmp(props[i].name, name) == 0)
			found = &props[i];
	return found;
}

static void test_conversions(void)
{
	struct ocr_error err = {0};
	int64_t v = 0;

	is_int((long long)cg_shares_to_weight(0), 0, "shares 0 is unset");
	is_int((long long)cg_shares_to_weight(1), 1, "shares 1 -> weight 1");
	is_int((long long)cg_shares_to_weight(2), 1, "shares 2 (v1 minimum) -> weight 1");
	is_int((long long)cg_shares_to_weight(1024), 100, "shares 1024 (v1 default) -> weight 100 (v2 default)");
	is_int((long long)cg_shares_to_weight(262144), 10000, "shares 262144 (v1 maximum) -> weight 10000");
	is_int((long long)cg_shares_to_weight(500000), 10000, "shares above the maximum clamp to 10000");
	is_int((long long)cg_shares_to_weight(512), 59, "shares 512 -> 59 (runc/crun quadratic fit)");
	is_int((long long)cg_shares_to_weight(2048), 174, "shares 2048 -> 174");
	ok(cg_shares_to_weight(100) < cg_shares_to_weight(1000) &&
		   cg_shares_to_weight(1000) < cg_shares_to_weight(10000),
	   "the conversion is monotonic");

	is_int((long long)cg_blkio_weight_to_io(0), 0, "blkio weight 0 is unset");
	is_int((long long)cg_blkio_weight_to_io(10), 1, "blkio weight 10 -> io.weight 1");
	is_int((long long)cg_blkio_weight_to_io(500), 4950, "blkio weight 500 -> io.weight 4950");
	is_int((long long)cg_blkio_weight_to_io(1000), 10000, "blkio weight 1000 -> io.weight 10000");

	ok(cg_swap_to_v2(0, -1, &v, &err) == 0 && v == -1, "memory -1 and swap unset: swap unlimited too");
	ok(cg_swap_to_v2(-1, 100, &v, &err) == 0 && v == -1, "swap -1 stays unlimited");
	ok(cg_swap_to_v2(300, 100, &v, &err) == 0 && v == 200, "swap is memory+swap: 300 - 100 = 200");
	ok(cg_swap_to_v2(100, 100, &v, &err) == 0 && v == 0, "swap equal to memory: no swap");
	ok(cg_swap_to_v2(50, 100, &v, &err) < 0 && strstr(err.msg, "below memory.limit"), "swap below memory fails");
	ok(cg_swap_to_v2(200, 0, &v, &err) < 0 && strstr(err.msg, "needs a memory limit"),
	   "swap without a memory limit fails");

	is_int((long long)cg_quota_per_sec(50000, 100000), 500000, "quota 50000/100000 -> 0.5 s per second");
	is_int((long long)cg_quota_per_sec(33333, 100000), 340000, "CPUQuotaPerSecUSec rounds up to 10 ms");
	is_int((long long)cg_quota_per_sec(20000, 0), 200000, "period 0 means the default 100000");
}

static void test_full_plan(void)
{
	struct ocr_error err = {0};
	struct cg_plan p;
	unsigned want = CG_CPU | CG_CPUSET | CG_IO | CG_MEMORY | CG_PIDS | CG_HUGETLB;
	int rc = plan_of("{'memory': {'limit': 268435456, 'reservation': 134217728, 'swap': 536870912},"
			 " 'cpu': {'shares': 1024, 'quota': 50000, 'period': 100000, 'burst': 10000, 'idle': 0,"
			 "         'cpus': '0-1', 'mems': '0'},"
			 " 'pids': {'limit': 32},"
			 " 'blockIO': {'weight': 500, 'weightDevice': [{'major': 8, 'minor': 0, 'weight': 100}],"
			 "             'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
			 "             'throttleWriteIOPSDevice': [{'major': 8, 'minor': 16, 'rate': 0}]},"
			 " 'hugepageLimits': [{'pageSize': '2MB', 'limit': 0}],"
			 " 'unified': {'memory.high': '200000000', 'memory.max': '300000000'}}",
			 NULL, &p, &err);

	if (!ok(rc == 0, "a full linux.resources converts"))
		diag("%s", err.msg);
	is_str(written(&p, "memory.max", 0), "268435456", "memory.limit -> memory.max");
	is_str(written(&p, "memory.low", 0), "134217728", "memory.reservation -> memory.low");
	is_str(written(&p, "memory.swap.max", 0), "268435456", "memory.swap -> memory.swap.max = swap - limit");
	is_str(written(&p, "cpu.weight", 0), "100", "cpu.shares 1024 -> cpu.weight 100");
	is_str(written(&p, "cpu.max", 0), "50000 100000", "quota/period -> cpu.max");
	is_str(written(&p, "cpu.max.burst", 0), "10000", "burst -> cpu.max.burst");
	is_str(written(&p, "cpu.idle", 0), "0", "idle -> cpu.idle");
	is_str(written(&p, "cpuset.cpus", 0), "0-1", "cpus -> cpuset.cpus");
	is_str(written(&p, "cpuset.mems", 0), "0", "mems -> cpuset.mems");
	is_str(written(&p, "pids.max", 0), "32", "pids.limit -> pids.max");
	is_str(written(&p, "io.weight", 0), "4950", "blockIO.weight 500 -> io.weight 4950");
	is_str(written(&p, "io.weight", 1), "8:0 910", "weightDevice -> io.weight MAJ:MIN W");
	is_str(written(&p, "io.max", 0), "8:0 rbps=1048576", "throttleReadBpsDevice -> io.max rbps");
	is_str(written(&p, "io.max", 1), "8:16 wiops=max", "a throttle rate of 0 is no limit");
	is_str(written(&p, "hugetlb.2MB.max", 0), "0", "hugepageLimits -> hugetlb.2MB.max");
	is_str(written(&p, "memory.high", 0), "200000000", "unified is written verbatim");
	ok(p.n_writes > 0 && strcmp(p.writes[p.n_writes - 1].file, "memory.max") == 0 &&
		   strcmp(p.writes[p.n_writes - 1].value, "300000000") == 0,
	   "unified comes last and overrides the converted memory.max");
	is_int(p.controllers, want, "the plan needs cpu, cpuset, io, memory, pids, hugetlb");
	is_int((long long)p.n_ignored, 0, "nothing ignored");
	ok(p.n_writes > 0 && strcmp(p.writes[0].field, "linux.resources.memory.limit") == 0,
	   "each write names its spec field");
	cg_plan_clear(&p);
}

static void test_ignored_and_empty(void)
{
	struct ocr_error err = {0};
	struct cg_plan p;

	plan_of("{'memory': {'kernel': 1000, 'kernelTCP': 1000, 'swappiness': 10, 'disableOOMKiller': true},"
		" 'cpu': {'realtimeRuntime': 950000, 'realtimePeriod': 1000000},"
		" 'blockIO': {'leafWeight': 100}, 'network': {'classID': 1}, 'rdma': {}}",
		NULL, &p, &err);
	ok(ignored(&p, "memory.kernel") && ignored(&p, "memory.kernelTCP") && ignored(&p, "memory.swappiness"),
	   "kernel memory and swappiness are reported as not in cgroup v2");
	ok(ignored(&p, "memory.disableOOMKiller"), "disableOOMKiller is reported");
	ok(ignored(&p, "cpu.realtimeRuntime") && ignored(&p, "cpu.realtimePeriod"), "realtime cpu is reported");
	ok(ignored(&p, "blockIO.leafWeight") && ignored(&p, "network.classID") && ignored(&p, "rdma"),
	   "leafWeight, net_cls and rdma are reported");
	is_int((long long)p.n_writes, 0, "and nothing is written for them");
	ok(cg_plan_requested(&p), "ignored fields still count as limits asked for");
	cg_plan_clear(&p);

	plan_of("{'devices': [{'allow': false, 'access': 'rwm'}]}", NULL, &p, &err);
	ok(!cg_plan_requested(&p), "device rules alone are no limits (rootless has no device cgroup)");
	cg_plan_clear(&p);
	ok(cg_plan_build(NULL, NULL, &p, &err) == 0 && !cg_plan_requested(&p), "no resources: empty plan");
	plan_of("{'pids': {'limit': 0}, 'cpu': {'shares': 0, 'quota': 0}, 'memory': {'limit': 0}}", NULL, &p, &err);
	is_int((long long)p.n_writes, 0, "zeros mean unset (pids, shares, quota, memory)");
	cg_plan_clear(&p);
	plan_of("{'pids': {'limit': -1}, 'memory': {'limit': -1}, 'cpu': {'quota': -1}}", NULL, &p, &err);
	is_str(written(&p, "pids.max", 0), "max", "pids -1 -> max");
	is_str(written(&p, "memory.max", 0), "max", "memory -1 -> max");
	is_str(written(&p, "memory.swap.max", 0), "max", "memory -1 without swap: swap max too (runc)");
	is_str(written(&p, "cpu.max", 0), "max", "quota -1 -> cpu.max max");
	cg_plan_clear(&p);
}

static void test_updates(void)
{
	struct ocr_error err = {0};
	struct cg_plan p;
	struct cg_current cur = {.memory_max = "1000\n", .cpu_max = "20000 50000\n"};
	struct cg_current unlimited = {.memory_max = "max\n", .cpu_max = "max 100000\n"};

	plan_of("{'cpu': {'period': 200000}}", &cur, &p, &err);
	is_str(written(&p, "cpu.max", 0), "20000 200000", "a new period keeps the current quota");
	cg_plan_clear(&p);
	plan_of("{'cpu': {'quota': 30000}}", &cur, &p, &err);
	is_str(written(&p, "cpu.max", 0), "30000", "a new quota alone keeps the kernel's period");
	cg_plan_clear(&p);
	plan_of("{'memory': {'swap': 3000}}", &cur, &p, &err);
	is_str(written(&p, "memory.swap.max", 0), "2000", "swap alone uses the current memory.max");
	cg_plan_clear(&p);
	ok(plan_of("{'memory': {'swap': 3000}}", &unlimited, &p, &err) == -1 && strstr(err.msg, "memory.swap"),
	   "swap alone under an unlimited memory.max fails naming memory.swap");
	ok(plan_of("{'memory': {'swap': 3000}}", NULL, &p, &err) == -1, "swap without any memory limit fails");
}

static void test_unified_keys(void)
{
	struct ocr_error err = {0};
	struct cg_plan p;
	unsigned c = 99;

	ok(cg_unified_key_check("memory.high", &c, &err) == 0 && c == CG_MEMORY, "memory.high is a memory file");
	ok(cg_unified_key_check("cgroup.max.depth", &c, &err) == 0 && c == 0, "cgroup.max.depth needs no controller");
	ok(cg_unified_key_check("../memory.max", &c, &err) < 0 && strstr(err.msg, "no `/`"), "`..` is refused");
	ok(cg_unified_key_check("memory/../../x.y", &c, &err) < 0, "`/` is refused");
	ok(cg_unified_key_check("memory", &c, &err) < 0 && strstr(err.msg, "<controller>.<file>"),
	   "a key without a file part is refused");
	ok(cg_unified_key_check("foo.bar", &c, &err) < 0 && strstr(err.msg, "unknown controller `foo`"),
	   "an unknown controller is named");
	ok(cg_unified_key_check("cgroup.procs", &c, &err) < 0 && strstr(err.msg, "managed by the runtime"),
	   "cgroup.procs may not be set through unified");
	ok(cg_unified_key_check("Memory.max", &c, &err) < 0, "upper case is refused");
	ok(plan_of("{'unified': {'cgroup.kill': '1'}}", NULL, &p, &err) == -1 &&
		   strstr(err.msg, "linux.resources.unified"),
	   "a bad unified key fails the plan, naming linux.resources.unified");
	ok(plan_of("{'hugepageLimits': [{'pageSize': '2XB', 'limit': 1}]}", NULL, &p, &err) == -1 &&
		   strstr(err.msg, "hugepageLimits[0].pageSize"),
	   "a bad hugepage size is named");
}

static void test_properties(void)
{
	struct ocr_error err = {0};
	struct cg_property *props = NULL;
	const struct cg_property *pr;
	struct cg_plan p;
	uint8_t *mask = NULL;
	size_t n = 0;

	plan_of("{'memory': {'limit': 67108864, 'swap': -1}, 'cpu': {'shares': 2048, 'quota': 50000, 'period': 100000,"
		" 'cpus': '0-3,8'}, 'pids': {'limit': 64}, 'blockIO': {'weight': 500,"
		" 'weightDevice': [{'major': 8, 'minor': 0, 'weight': 10}]}}",
		NULL, &p, &err);
	ok(cg_plan_to_properties(&p, &props, &n, &err) == 0, "the plan maps to systemd properties");
	pr = prop(props, n, "MemoryMax");
	ok(pr && pr->type == 't' && pr->u == 67108864, "MemoryMax");
	pr = prop(props, n, "MemorySwapMax");
	ok(pr && pr->u == UINT64_MAX, "MemorySwapMax infinity for -1");
	pr = prop(props, n, "CPUWeight");
	ok(pr && pr->u == 174, "CPUWeight from converted shares");
	pr = prop(props, n, "CPUQuotaPerSecUSec");
	ok(pr && pr->u == 500000, "CPUQuotaPerSecUSec");
	pr = prop(props, n, "CPUQuotaPeriodUSec");
	ok(pr && pr->u == 100000, "CPUQuotaPeriodUSec");
	pr = prop(props, n, "TasksMax");
	ok(pr && pr->u == 64, "TasksMax");
	pr = prop(props, n, "IOWeight");
	ok(pr && pr->u == 4950, "IOWeight from the converted default weight (device weights stay files)");
	pr = prop(props, n, "AllowedCPUs");
	ok(pr && pr->type == 'y' && pr->n_bytes == 2 && pr->bytes[0] == 0x0f && pr->bytes[1] == 0x01,
	   "AllowedCPUs 0-3,8 -> bytes 0f 01");
	cg_properties_free(props, n);
	cg_plan_clear(&p);

	ok(cg_cpuset_to_mask("1-", &mask, &n, &err) < 0, "`1-` is not a cpu list");
	ok(cg_cpuset_to_mask("3-1", &mask, &n, &err) < 0, "a descending range is not a cpu list");
	ok(cg_cpuset_to_mask("0,2", &mask, &n, &err) == 0 && n == 1 && mask[0] == 0x05, "0,2 -> 05");
	free(mask);
}

static void test_controller_names(void)
{
	char *s = cg_controllers_format(CG_MEMORY | CG_PIDS);

	is_int(cg_controllers_parse("cpuset cpu io memory hugetlb pids rdma misc\n"), CG_ALL_CONTROLLERS,
	       "cgroup.controllers parses");
	is_int(cg_controllers_parse("hugetlb\n"), CG_HUGETLB, "a hybrid host's unified hierarchy: hugetlb only");
	is_str(s, "memory, pids", "controllers format for messages");
	free(s);
}

int main(void)
{
	test_conversions();
	test_full_plan();
	test_ignored_and_empty();
	test_updates();
	test_unified_keys();
	test_properties();
	test_controller_names();
	return done_testing();
}
