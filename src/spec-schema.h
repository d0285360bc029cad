/* config.json against the shape runtime-spec gives it, for `check --bundle`
 * only: spec_parse() ignores members it does not know (so newer configs
 * load) and never looks at the fields this runtime does not implement
 * (intelRdt, memoryPolicy, netDevices, execCPUAffinity, ...), which hides
 * typos and wrong types. This walks the raw document against a const table
 * of runtime-spec's config (config.md, config-linux.md) and reports each
 * unknown member, with a did-you-mean among its siblings, and each value of
 * the wrong type, by RFC 6901 JSON pointer. Never on the create path. */
#ifndef OCR_SPEC_SCHEMA_H
#define OCR_SPEC_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum spec_schema_issue { SPEC_SCHEMA_UNKNOWN, SPEC_SCHEMA_TYPE };

struct spec_schema_finding {
	enum spec_schema_issue issue;
	const char *pointer; /* RFC 6901, raw (keys are not escaped for a terminal) */
	const char *suggestion; /* UNKNOWN: the sibling it is probably a typo of, or NULL */
	const char *expected; /* TYPE: "a string", "an integer in 0..4294967295", ... */
	const char *got; /* TYPE: "a number", "an object", ... */
};

typedef void spec_schema_report_fn(void *data, const struct spec_schema_finding *f);

/* Walk ROOT (a whole config.json) and call REPORT for the first MAX
 * findings, in document order. INTS_AS_REALS: ROOT was decoded with
 * JSON_DECODE_INT_AS_REAL (integers above INT64_MAX), so integral reals
 * count as integers. Returns the number of findings, reported or not. */
size_t spec_schema_check(json_t *root, bool ints_as_reals, size_t max, spec_schema_report_fn *report, void *data);

/* The same on the bytes of a config.json. Fails (EINVAL) only when BUF is
 * not JSON; *RET_N gets the number of findings. */
int spec_schema_check_buf(const char *buf, size_t len, size_t max, spec_schema_report_fn *report, void *data,
			  size_t *ret_n, struct ocr_error *err);

/* Edit distance (insertions, deletions, substitutions and swaps of two
 * neighbours) between A and B, stopping early above LIMIT (returns
 * LIMIT + 1 then). */
size_t spec_schema_distance(const char *a, const char *b, size_t limit);

#endif
