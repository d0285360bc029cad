/* spec-schema.c: unknown fields and wrong types of config.json by JSON
 * pointer, with did-you-mean suggestions; free-form maps stay quiet. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/spec-schema.h"
#include "tap.h"

/* The findings of one walk, one line each: "U <ptr> <suggestion|->" or
 * "T <ptr> <expected>/<got>". */
struct seen {
	char text[4096];
};

static void collect(void *data, const struct spec_schema_finding *f)
{
	struct seen *s = data;
	size_t used = strlen(s->text);

	if (f->issue == SPEC_SCHEMA_UNKNOWN)
		snprintf(s->text + used, sizeof(s->text) - used, "U %s %s\n", f->pointer,
			 f->suggestion ? f->suggestion : "-");
	else
		snprintf(s->text + used, sizeof(s->text) - used, "T %s %s/%s\n", f->pointer, f->expected, f->got);
}

/* Walk JSON, return the findings text (static buffer) and their count. */
static const char *walk(const char *json, size_t max, size_t *ret_n)
{
	static struct seen s;
	struct ocr_error err = {0};

	memset(&s, 0, sizeof(s));
	*ret_n = 0;
	if (spec_schema_check_buf(json, strlen(json), max, collect, &s, ret_n, &err) < 0)
		snprintf(s.text, sizeof(s.text), "error: %s", err.msg);
	return s.text;
}

#define BASE "\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}"

static void test_clean(void)
{
	size_t n;
	const char *json =
		"{" BASE ", \"process\": {\"cwd\": \"/\", \"args\": [\"sh\"], \"user\": {\"uid\": 0, \"gid\": 0},"
		" \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 2}],"
		" \"execCPUAffinity\": {\"initial\": \"0\", \"final\": \"0-3\"}},"
		" \"linux\": {\"resources\": {\"memory\": {\"limit\": -1, \"checkBeforeUpdate\": true},"
		" \"cpu\": {\"burst\": 1, \"idle\": 0}, \"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}},"
		" \"unified\": {\"io.max\": \"8:0 rbps=1\"}},"
		" \"intelRdt\": {\"closID\": \"g\", \"schemata\": [\"L3:0=f\"], \"enableMonitoring\": true},"
		" \"memoryPolicy\": {\"mode\": \"MPOL_BIND\", \"nodes\": \"0\", \"flags\": []},"
		" \"netDevices\": {\"eth0\": {\"name\": \"ctr0\"}}, \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
		" \"timeOffsets\": {\"monotonic\": {\"secs\": -5, \"nanosecs\": 0}}},"
		" \"vm\": {\"anything\": 1}, \"windows\": {\"x\": [1]}, \"hooks\": {\"poststop\": []},"
		" \"annotations\": {\"org.example/anything~goes\": \"1\"}}";
	const char *text = walk(json, 100, &n);

	is_int((long long)n, 0, "a config using every corner of the schema has no finding");
	if (n)
		diag("%s", text);
}

static void test_unknown(void)
{
	size_t n;
	const char *text;

	text = walk("{" BASE ", \"hostnme\": \"x\", \"process\": {\"cwd\": \"/\", \"capabilties\": {}},"
		    " \"linux\": {\"resources\": {\"memroy\": {}, \"pids\": {\"limt\": 3}}}}",
		    100, &n);
	is_int((long long)n, 4, "four unknown fields");
	is_str(text,
	       "U /hostnme hostname\nU /process/capabilties capabilities\nU /linux/resources/memroy memory\n"
	       "U /linux/resources/pids/limt limit\n",
	       "pointers in document order, each with the sibling it is a typo of");
	text = walk("{" BASE ", \"mounts\": [{\"destination\": \"/a\"}, {\"destination\": \"/b\", \"optoins\": []}]}",
		    100, &n);
	is_str(text, "U /mounts/1/optoins options\n", "array entries by index");
	text = walk("{" BASE ", \"ab\": 1, \"zzzzzzzz\": 2, \"process\": {\"cwd\": \"/\", \"NoNewPrivileges\": true}}",
		    100, &n);
	is_str(text, "U /ab -\nU /zzzzzzzz -\nU /process/NoNewPrivileges noNewPrivileges\n",
	       "no suggestion for a short or far key; a case slip is one edit");
}

static void test_escaping(void)
{
	size_t n;
	const char *text;

	text = walk("{" BASE ", \"a/b~c\": 1, \"linux\": {\"netDevices\": {\"eth/0~x\": {\"nmae\": \"a\"}}}}", 100, &n);
	is_str(text, "U /a~1b~0c -\nU /linux/netDevices/eth~10~0x/nmae name\n",
	       "~ is ~0 and / is ~1 in keys (RFC 6901), also for free-form map keys");
}

static void test_free_form(void)
{
	size_t n;
	const char *text;

	text = walk("{" BASE ", \"annotations\": {\"capabilties\": \"1\", \"hostnme\": \"2\"},"
		    " \"linux\": {\"sysctl\": {\"kernel.whatever\": \"1\"}, \"resources\": {\"unified\": {\"x.y\": "
		    "\"1\"}}},"
		    " \"vm\": {\"hypervisor\": {\"pth\": \"/x\"}}, \"zos\": {}, \"solaris\": {}, \"windows\": {}}",
		    100, &n);
	is_int((long long)n, 0, "annotations, sysctl, unified and other platforms' objects: no warning inside");
	if (n)
		diag("%s", text);
	text = walk("{" BASE ", \"annotations\": {\"k\": 1}, \"vm\": [], \"linux\": {\"sysctl\": {\"a\": true}}}", 100,
		    &n);
	is_str(text,
	       "T /annotations/k a string/an integer\nT /vm an object/an array\nT /linux/sysctl/a a string/a boolean\n",
	       "free-form maps still check their value type");
}

static void test_types(void)
{
	size_t n;
	const char *text;

	text = walk("{" BASE ", \"linux\": {\"intelRdt\": {\"closID\": 5, \"enableMonitoring\": \"yes\"},"
		    " \"memoryPolicy\": {\"flags\": \"MPOL_F_STATIC_NODES\"},"
		    " \"resources\": {\"rdma\": {\"m\": {\"hcaHandles\": -1, \"hcaObjects\": 4294967296}},"
		    " \"blockIO\": {\"weight\": 1.5}}},"
		    " \"process\": {\"cwd\": \"/\", \"execCPUAffinity\": {\"initial\": 7}}, \"hostname\": null}",
		    100, &n);
	is_str(text,
	       "T /linux/intelRdt/closID a string/an integer\n"
	       "T /linux/intelRdt/enableMonitoring a boolean/a string\n"
	       "T /linux/memoryPolicy/flags an array/a string\n"
	       "T /linux/resources/rdma/m/hcaHandles an integer in 0..4294967295/an integer\n"
	       "T /linux/resources/rdma/m/hcaObjects an integer in 0..4294967295/an integer\n"
	       "T /linux/resources/blockIO/weight an integer in 0..65535/a number with a fraction\n"
	       "T /process/execCPUAffinity/initial a string/an integer\n",
	       "wrong types of the fields the parser never reads; null is absent");
	text = walk("{" BASE ", \"process\": {\"cwd\": \"/\", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\","
		    " \"soft\": 18446744073709551615, \"hard\": 18446744073709551615}], \"user\": {\"uid\": 1}},"
		    " \"linux\": {\"intelRdt\": {\"closID\": 1.0}}}",
		    100, &n);
	is_str(text, "T /linux/intelRdt/closID a string/a number with a fraction\n",
	       "RLIM_INFINITY past int64 still reads (integers as reals), and types still check");
}

static void test_limits(void)
{
	size_t n;
	const char *text;

	text = walk("{" BASE ", \"a1\": 1, \"a2\": 2, \"a3\": 3, \"a4\": 4}", 2, &n);
	is_int((long long)n, 4, "the count covers findings not reported");
	is_str(text, "U /a1 -\nU /a2 -\n", "only MAX are reported");
	text = walk("{\"ociVersion\": ", 10, &n);
	ok(strncmp(text, "error: config.json: line 1", 26) == 0, "not JSON is an error with its line (%s)", text);
	text = walk("{" BASE ", \"ociVersion\": \"x\"}", 10, &n);
	ok(strncmp(text, "error: ", 7) == 0, "duplicate keys are refused, as the parser does");
}

static void test_distance(void)
{
	is_int((long long)spec_schema_distance("capabilties", "capabilities", 2), 1, "one deletion");
	is_int((long long)spec_schema_distance("nmae", "name", 2), 1, "a swap of neighbours is one edit");
	is_int((long long)spec_schema_distance("memroy", "memory", 2), 1, "another swap");
	is_int((long long)spec_schema_distance("kitten", "sitting", 5), 3, "the classic");
	is_int((long long)spec_schema_distance("abcdef", "uvwxyz", 2), 3, "stops above the limit");
	is_int((long long)spec_schema_distance("a", "abcdefgh", 2), 3, "lengths far apart stop early");
	is_int((long long)spec_schema_distance("same", "same", 2), 0, "equal");
}

int main(void)
{
	test_clean();
	test_unknown();
	test_escaping();
	test_free_form();
	test_types();
	test_limits();
	test_distance();
	return done_testing();
}
