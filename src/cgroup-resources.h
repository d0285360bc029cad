/* linux.resources (runtime-spec, written for cgroup v1) to cgroup v2: a
 * plan of file writes, the controllers they need and the spec fields v2
 * cannot express; and the systemd unit properties that stand for some of
 * those files. Pure functions: no filesystem, no D-Bus (unit-tested). */
#ifndef OCR_CGROUP_RESOURCES_H
#define OCR_CGROUP_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

/* Controllers as bits; names as in cgroup.controllers. */
enum cg_controller {
	CG_CPU = 1u << 0,
	CG_CPUSET = 1u << 1,
	CG_IO = 1u << 2,
	CG_MEMORY = 1u << 3,
	CG_PIDS = 1u << 4,
	CG_HUGETLB = 1u << 5,
	CG_RDMA = 1u << 6,
	CG_MISC = 1u << 7,
};
#define CG_ALL_CONTROLLERS 0xffu

const char *cg_controller_name(unsigned bit);
/* "memory" -> CG_MEMORY; 0 when unknown. */
unsigned cg_controller_from_name(const char *name, size_t len);
/* Parse a space-separated list ("cpu io memory") into bits. */
unsigned cg_controllers_parse(const char *list);
/* "memory, pids" for messages; malloc'd. */
char *cg_controllers_format(unsigned bits);

/* One write into the container's cgroup. */
struct cg_write {
	char *file; /* "memory.max" */
	char *value; /* "268435456" */
	char *field; /* what asked for it: "linux.resources.memory.limit" */
	unsigned controller; /* CG_* bit, 0 for cgroup.* files */
};

struct cg_plan {
	struct cg_write *writes;
	size_t n_writes;
	char **ignored; /* spec fields cgroup v2 cannot express */
	size_t n_ignored;
	unsigned controllers; /* union of the writes' controllers */
};

/* What the cgroup holds now, for partial updates (update --cpu-period
 * alone keeps the quota; --memory-swap alone needs the memory limit).
 * NULL members: unknown (create). */
struct cg_current {
	const char *memory_max; /* content of memory.max */
	const char *cpu_max; /* content of cpu.max */
};

/* Build the plan for R (may be NULL: empty plan). Invalid combinations
 * (swap below the memory limit, a bad unified key, a bad hugepage size)
 * fail with the field named. */
int cg_plan_build(const struct spec_resources *r, const struct cg_current *cur, struct cg_plan *ret,
		  struct ocr_error *err);
void cg_plan_clear(struct cg_plan *p);
/* Were any limits asked for (writes or fields v2 cannot express)? */
bool cg_plan_requested(const struct cg_plan *p);

/* The conversions runc and crun use. */
uint64_t cg_shares_to_weight(uint64_t shares); /* cpu.shares 2..262144 -> cpu.weight 1..10000 */
uint64_t cg_blkio_weight_to_io(uint64_t weight); /* blkio 10..1000 -> io.weight 1..10000 */
/* memory.swap (memory+swap, v1) -> memory.swap.max; -1 means "max". */
int cg_swap_to_v2(int64_t swap, int64_t limit, int64_t *ret, struct ocr_error *err);
/* A linux.resources.unified key: "<controller>.<file>", no '/', no "..";
 * sets *RET_CONTROLLER (0 for the cgroup.max.* files). */
int cg_unified_key_check(const char *key, unsigned *ret_controller, struct ocr_error *err);

/* systemd unit properties that express some writes of a plan. */
struct cg_property {
	const char *name; /* "MemoryMax" */
	char type; /* 't' (uint64) or 'y' (byte array, "ay") */
	uint64_t u; /* UINT64_MAX = infinity */
	uint8_t *bytes;
	size_t n_bytes;
};

int cg_plan_to_properties(const struct cg_plan *p, struct cg_property **ret, size_t *ret_n, struct ocr_error *err);
void cg_properties_free(struct cg_property *props, size_t n);
/* "0-3,8" -> bitmask bytes as systemd's AllowedCPUs wants them. */
int cg_cpuset_to_mask(const char *list, uint8_t **ret, size_t *ret_n, struct ocr_error *err);
/* cpu.max "QUOTA PERIOD" -> CPUQuotaPerSecUSec (rounded up to systemd's
 * 10 ms granularity, as runc does); UINT64_MAX for "max". */
uint64_t cg_quota_per_sec(uint64_t quota, uint64_t period);

#endif
