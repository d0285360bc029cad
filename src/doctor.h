/* Host checks for rootless containers (`ocirt-rootless doctor`): each one
 * says ok, warn or fail, what it found, and for warn/fail the exact
 * command or file change that fixes it. Library code: fills a report, the
 * verb prints it. */
#ifndef OCR_DOCTOR_H
#define OCR_DOCTOR_H

#include <stdarg.h>
#include <stddef.h>

#include "ctx.h"
#include "error.h"

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_finding {
	char check[32]; /* short stable name: "userns", "newuidmap", ... */
	enum doctor_status status;
	char message[768]; /* what was found */
	char fix[768]; /* the command or change that fixes it; "" for ok */
};

struct doctor_report {
	struct doctor_finding *f;
	size_t n, cap;
};

/* Run every check as the calling user. Fails only when a check could not
 * run at all (out of memory); a failing check is a finding. */
int doctor_run(const struct ocr_ctx *ctx, struct doctor_report *ret, struct ocr_error *err);
void doctor_report_clear(struct doctor_report *r);
/* Append one finding to R (the fix is dropped for an ok finding). */
void doctor_add(struct doctor_report *r, const char *check, enum doctor_status st, const char *fix, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
void doctor_vadd(struct doctor_report *r, const char *check, enum doctor_status st, const char *fix, const char *fmt,
		 va_list ap) __attribute__((format(printf, 5, 0)));
const char *doctor_status_name(enum doctor_status s);
/* How many findings have status S. */
size_t doctor_count(const struct doctor_report *r, enum doctor_status s);

#endif
