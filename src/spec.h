/* config.json (OCI runtime-spec 1.x) parsed once into typed structs.
 * Every field is validated here, so later stages never see a wrong type;
 * errors name the JSON path ("process.args[2]: expected a string") and,
 * for syntax errors, the line and column. All memory of a parsed spec
 * belongs to it and goes with spec_free(). */
#ifndef OCR_SPEC_H
#define OCR_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Largest config.json we read: far above any real one, small enough that a
 * hostile file cannot exhaust memory. */
#define SPEC_MAX_FILE_SIZE (16u * 1024u * 1024u)

struct opt_i64 {
	bool set;
	int64_t v;
};
struct opt_u64 {
	bool set;
	uint64_t v;
};

struct spec_kv {
	char *key;
	char *value;
};

struct spec_idmap {
	uint32_t container_id, host_id, size;
};

/* Namespace types as CLONE_NEW* flags. */
struct spec_namespace {
	int type; /* CLONE_NEWNS, CLONE_NEWPID, ..., CLONE_NEWTIME */
	char *path; /* NULL: create a new one */
};

struct spec_rlimit {
	int resource; /* RLIMIT_* */
	char *name; /* as written, e.g. "RLIMIT_NOFILE" */
	uint64_t soft, hard;
};

struct spec_user {
	uint32_t uid, gid;
	struct opt_u64 umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username;
};

/* Capability names as written ("CAP_SYS_ADMIN"); validated for shape
 * (CAP_ + [A-Z0-9_]) only, since the running kernel decides which exist. */
struct spec_caps {
	char **bounding, **effective, **inheritable, **permitted, **ambient;
	size_t n_bounding, n_effective, n_inheritable, n_permitted, n_ambient;
};

struct spec_io_priority {
	bool set;
	int klass; /* IOPRIO_CLASS_* 1..3 */
	int priority;
};

struct spec_scheduler {
	bool set;
	int policy; /* SCHED_* */
	int32_t nice;
	int32_t priority;
	uint64_t flags; /* SCHED_FLAG_* */
	uint64_t runtime, deadline, period;
};

struct spec_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	struct spec_user user;
	char **args; /* NULL-terminated, n_args >= 1 */
	size_t n_args;
	char **env; /* NULL-terminated, "K=V" each */
	size_t n_env;
	char *cwd; /* absolute */
	struct spec_caps *caps; /* NULL when absent */
	struct spec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	struct opt_i64 oom_score_adj;
	char *selinux_label;
	struct spec_io_priority io_priority;
	struct spec_scheduler scheduler;
};

struct spec_mount {
	char *destination; /* absolute inside the container */
	char *type; /* may be NULL (bind mounts) */
	char *source; /* may be NULL */
	char **options; /* NULL-terminated */
	size_t n_options;
	struct spec_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
};

struct spec_hook {
	char *path; /* absolute */
	char **args; /* NULL-terminated, may be NULL */
	char **env; /* NULL-terminated, may be NULL */
	struct opt_i64 timeout; /* seconds, > 0 when set */
};

enum spec_hook_kind {
	SPEC_HOOK_PRESTART,
	SPEC_HOOK_CREATE_RUNTIME,
	SPEC_HOOK_CREATE_CONTAINER,
	SPEC_HOOK_START_CONTAINER,
	SPEC_HOOK_POSTSTART,
	SPEC_HOOK_POSTSTOP,
	SPEC_HOOK_KIND_COUNT
};

struct spec_hooks {
	struct spec_hook *hooks[SPEC_HOOK_KIND_COUNT];
	size_t n_hooks[SPEC_HOOK_KIND_COUNT];
};

struct spec_device {
	char *path; /* absolute inside the container */
	char type; /* 'c', 'u', 'b' or 'p' */
	int64_t major, minor;
	struct opt_u64 file_mode;
	struct opt_u64 uid, gid;
};

/* cgroup device rules (linux.resources.devices) */
struct spec_device_rule {
	bool allow;
	char type; /* 'a', 'c', 'b' */
	struct opt_i64 major, minor;
	char *access; /* subset of "rwm" */
};

struct spec_blkio_weight_device {
	int64_t major, minor;
	struct opt_u64 weight, leaf_weight;
};

struct spec_blkio_throttle {
	int64_t major, minor;
	uint64_t rate;
};

struct spec_hugepage_limit {
	char *page_size;
	uint64_t limit;
};

struct spec_resources {
	struct spec_device_rule *devices;
	size_t n_devices;
	struct {
		struct opt_i64 limit, reservation, swap, kernel, kernel_tcp;
		struct opt_u64 swappiness;
		bool disable_oom_killer;
		struct opt_u64 use_hierarchy;
		bool check_before_update;
	} memory;
	struct {
		struct opt_u64 shares, period, realtime_period, burst;
		struct opt_i64 quota, realtime_runtime, idle;
		char *cpus, *mems;
	} cpu;
	struct {
		struct opt_i64 limit;
	} pids;
	struct {
		struct opt_u64 weight, leaf_weight;
		struct spec_blkio_weight_device *weight_device;
		size_t n_weight_device;
		struct spec_blkio_throttle *throttle_read_bps, *throttle_write_bps, *throttle_read_iops,
			*throttle_write_iops;
		size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
	} block_io;
	struct spec_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	struct {
		struct opt_u64 class_id;
		bool has_priorities;
	} network;
	bool has_rdma;
	struct spec_kv *unified;
	size_t n_unified;
};

enum spec_seccomp_action {
	SPEC_SCMP_KILL, /* SCMP_ACT_KILL (= kill thread) */
	SPEC_SCMP_KILL_PROCESS,
	SPEC_SCMP_KILL_THREAD,
	SPEC_SCMP_TRAP,
	SPEC_SCMP_ERRNO,
	SPEC_SCMP_TRACE,
	SPEC_SCMP_ALLOW,
	SPEC_SCMP_LOG,
	SPEC_SCMP_NOTIFY,
};

enum spec_seccomp_op {
	SPEC_SCMP_CMP_NE,
	SPEC_SCMP_CMP_LT,
	SPEC_SCMP_CMP_LE,
	SPEC_SCMP_CMP_EQ,
	SPEC_SCMP_CMP_GE,
	SPEC_SCMP_CMP_GT,
	SPEC_SCMP_CMP_MASKED_EQ,
};

struct spec_seccomp_arg {
	unsigned index; /* 0..5 */
	uint64_t value, value_two;
	enum spec_seccomp_op op;
};

struct spec_seccomp_syscall {
	char **names;
	size_t n_names;
	enum spec_seccomp_action action;
	struct opt_u64 errno_ret;
	struct spec_seccomp_arg *args;
	size_t n_args;
};

struct spec_seccomp {
	enum spec_seccomp_action default_action;
	struct opt_u64 default_errno_ret;
	char **architectures; /* as written, e.g. "SCMP_ARCH_X86_64" */
	size_t n_architectures;
	char **flags; /* as written, e.g. "SECCOMP_FILTER_FLAG_LOG" */
	size_t n_flags;
	char *listener_path;
	char *listener_metadata;
	struct spec_seccomp_syscall *syscalls;
	size_t n_syscalls;
};

struct spec_time_offset {
	int clock; /* CLOCK_MONOTONIC or CLOCK_BOOTTIME */
	int64_t secs;
	uint32_t nanosecs;
};

struct spec_linux {
	struct spec_namespace *namespaces;
	size_t n_namespaces;
	struct spec_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct spec_time_offset time_offsets[2];
	size_t n_time_offsets;
	struct spec_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct spec_resources *resources; /* NULL when absent */
	struct spec_kv *sysctl;
	size_t n_sysctl;
	struct spec_seccomp *seccomp; /* NULL when absent */
	bool has_rootfs_propagation;
	unsigned long rootfs_propagation; /* MS_SHARED|MS_REC etc. */
	char **masked_paths, **readonly_paths; /* NULL-terminated */
	size_t n_masked_paths, n_readonly_paths;
	char *mount_label;
	struct opt_u64 personality_domain; /* PER_LINUX / PER_LINUX32 */
};

struct spec {
	char *oci_version;
	char *root_path; /* as written (relative to the bundle, or absolute) */
	bool root_readonly;
	struct spec_mount *mounts;
	size_t n_mounts;
	struct spec_process *process; /* NULL when absent */
	char *hostname, *domainname;
	struct spec_hooks hooks;
	struct spec_kv *annotations;
	size_t n_annotations;
	struct spec_linux *linux_; /* NULL when absent */
	void *arena; /* owner of all the memory above */
};

/* Parse BUF (LEN bytes, need not be NUL-terminated); ORIGIN names the
 * source in messages ("config.json"). */
int spec_parse(const char *buf, size_t len, const char *origin, struct spec **ret, struct ocr_error *err);
/* Read and parse BUNDLE/config.json. */
int spec_load(const char *bundle, struct spec **ret, struct ocr_error *err);
/* The same, also handing back the bytes read (RET_BUF may be NULL), for a
 * caller that keeps a copy of the config. */
/* The bytes of BUNDLE/config.json: a regular file of at most
 * SPEC_MAX_FILE_SIZE, opened without blocking on a FIFO. */
int spec_read_config(const char *bundle, char **ret, size_t *ret_len, struct ocr_error *err);
int spec_load_keep(const char *bundle, struct spec **ret, char **ret_buf, size_t *ret_len, struct ocr_error *err);
/* A runtime-spec `process` object on its own (exec --process FILE). */
int spec_parse_process(const char *buf, size_t len, const char *origin, struct spec_process **ret, void **ret_arena,
		       struct ocr_error *err);
/* A runtime-spec LinuxResources object on its own (update --resources
 * FILE); errors name the JSON path inside it ("memory.limit: ..."). */
int spec_parse_resources(const char *buf, size_t len, const char *origin, struct spec_resources **ret, void **ret_arena,
			 struct ocr_error *err);
void spec_free(struct spec *spec);
void spec_arena_free(void *arena);

/* Lookups used by the runtime. */
const struct spec_namespace *spec_namespace(const struct spec *spec, int type);
const char *spec_annotation(const struct spec *spec, const char *key);

/* Names: "pid" -> CLONE_NEWPID (-1 if unknown), RLIMIT_NOFILE name -> id. */
int spec_namespace_type_from_name(const char *name);
const char *spec_namespace_type_name(int type);
int spec_rlimit_from_name(const char *name);
/* The shape of a capability name: CAP_ + [A-Z0-9_]+ (the kernel decides
 * which exist). */
bool spec_cap_name_valid(const char *name);

/* The default config.json `spec` writes; ROOTLESS as `runc spec --rootless`
 * with the caller's uid/gid in the mappings. Returns a malloc'd string. */
char *spec_default_json(bool rootless, uid_t uid, gid_t gid);

#endif
