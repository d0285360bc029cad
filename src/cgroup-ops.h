/* Operations on a running container through its cgroup: pause, resume,
 * update, events and ps. */
#ifndef OCR_CGROUP_OPS_H
#define OCR_CGROUP_OPS_H

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"

/* Freeze (cgroup.freeze, waiting until frozen) and record "paused". */
int container_pause(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err);
int container_resume(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err);

/* Apply R to the running container's cgroup (fields left unset stay). */
int container_update(const struct ocr_ctx *ctx, const char *id, const struct spec_resources *r, struct ocr_error *err);

struct events_opts {
	bool stats_once; /* --stats: one stats object, then return */
	unsigned interval_ms; /* between stats objects (default 5000) */
};

/* runc's event stream on OUT, one JSON object a line:
 * {"type":"stats","id":ID,"data":{cpu,memory,pids,blkio,hugetlb}} every
 * interval, {"type":"oom","id":ID} when memory.events' oom count rises;
 * ends when the container stops. */
int container_events(const struct ocr_ctx *ctx, const char *id, const struct events_opts *o, FILE *out,
		     struct ocr_error *err);

/* The container's processes (host pids, sorted): its cgroup's, or without
 * one those in the pid namespace of its init (or init and descendants). */
int container_pids(const struct ocr_ctx *ctx, const char *id, pid_t **ret, size_t *ret_n, struct ocr_error *err);

/* `ps`: JSON prints the pid array; else `ps PS_ARGS` (default -ef) with
 * the rows of the container's pids, as runc does. */
int container_ps(const struct ocr_ctx *ctx, const char *id, bool json, char *const *ps_args, FILE *out,
		 struct ocr_error *err);

#endif
