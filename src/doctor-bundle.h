/* `doctor --bundle DIR` (`check --bundle DIR`): findings about a bundle's
 * config.json in the same report as the host checks. First whether it
 * loads at all (spec_load: types, required fields, syntax with line and
 * column), then the risky settings, each naming the JSON pointer of the
 * field (/process/capabilities/bounding/3, /mounts/5, ...): capabilities
 * beyond the runtime's default set, no seccomp, noNewPrivileges false,
 * host namespaces shared, writable /sys or /proc/sys, masked paths missing
 * compared with the default list, bind mounts of sensitive host paths, and
 * ids outside the map the runtime would build. Unknown fields and values
 * of the wrong type, which the parser ignores, are warnings by JSON pointer
 * (spec-schema.h), also for a config that does not load. */
#ifndef OCR_DOCTOR_BUNDLE_H
#define OCR_DOCTOR_BUNDLE_H

#include "ctx.h"
#include "doctor.h"
#include "error.h"

/* Append the findings about BUNDLE/config.json to R. Fails only when the
 * checks could not run at all; a config that does not load is a `fail`
 * finding. */
int doctor_bundle_run(const struct ocr_ctx *ctx, const char *bundle, struct doctor_report *r, struct ocr_error *err);

#endif
