/* Verbs that act through the container's cgroup: pause, resume, update,
 * events, ps. Flags as runc's. */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup-ops.h"
#include "cmd.h"
#include "utils.h"

int cmd_pause(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	const char *id;
	int r = cmd_parse_id("pause", argc, argv, &id, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	return container_pause(ctx, id, err) < 0 ? -1 : 0;
}

int cmd_resume(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	const char *id;
	int r = cmd_parse_id("resume", argc, argv, &id, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	return container_resume(ctx, id, err) < 0 ? -1 : 0;
}

/* ---- update --------------------------------------------------------------- */

/* A byte size: "-1", "1024", "512k", "64m", "1g", "2t" (an optional "b";
 * case-insensitive), as runc's RAMInBytes. */
static int parse_bytes(const char *flag, const char *s, int64_t *ret, struct ocr_error *err)
{
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0)
		goto bad;
	if (v == -1 && *end == '\0') {
		*ret = -1;
		return 0;
	}
	if (v < 0)
		goto bad;
	switch (tolower((unsigned char)*end)) {
	case 'k':
		shift = 10;
		end++;
		break;
	case 'm':
		shift = 20;
		end++;
		break;
	case 'g':
		shift = 30;
		end++;
		break;
	case 't':
		shift = 40;
		end++;
		break;
	case '\0':
		break;
	default:
		goto bad;
	}
	if (shift && tolower((unsigned char)*end) == 'b')
		end++;
	if (*end != '\0' || v > (INT64_MAX >> shift))
		goto bad;
	*ret = (int64_t)v << shift;
	return 0;
bad:
	return ocr_fail(err, EINVAL, "update: %s: `%s` is not a size (e.g. 512m, 1g, or -1 for unlimited)", flag, s);
}

static int parse_i64_flag(const char *flag, const char *s, int64_t *ret, struct ocr_error *err)
{
	if (parse_i64(s, ret) < 0)
		return ocr_fail(err, EINVAL, "update: %s: `%s` is not a number", flag, s);
	return 0;
}

static int parse_u64_flag(const char *flag, const char *s, uint64_t *ret, struct ocr_error *err)
{
	if (parse_u64(s, ret) < 0)
		return ocr_fail(err, EINVAL, "update: %s: `%s` is not a non-negative number", flag, s);
	return 0;
}

static int read_resources(const char *file, struct spec_resources **ret, void **ret_arena, struct ocr_error *err)
{
	cleanup_free char *data = NULL;
	size_t len;

	if (read_file_at(AT_FDCWD, strcmp(file, "-") == 0 ? "/dev/stdin" : file, SPEC_MAX_FILE_SIZE, &data, &len, err) <
	    0)
		return ocr_wrap(err, "update: --resources");
	return spec_parse_resources(data, len, strcmp(file, "-") == 0 ? "<stdin>" : file, ret, ret_arena, err);
}

enum {
	OPT_MEMORY = 256,
	OPT_MEMORY_RESERVATION,
	OPT_MEMORY_SWAP,
	OPT_KERNEL_MEMORY,
	OPT_KERNEL_MEMORY_TCP,
	OPT_CPU_SHARES,
	OPT_CPU_QUOTA,
	OPT_CPU_PERIOD,
	OPT_CPU_RT_PERIOD,
	OPT_CPU_RT_RUNTIME,
	OPT_CPUSET_CPUS,
	OPT_CPUSET_MEMS,
	OPT_PIDS_LIMIT,
	OPT_BLKIO_WEIGHT,
};

/* One flag into R; 1 when it was not an update flag. */
static int update_flag(int c, const char *arg, struct spec_resources *r, struct ocr_error *err)
{
	switch (c) {
	case OPT_MEMORY:
		r->memory.limit.set = true;
		return parse_bytes("--memory", arg, &r->memory.limit.v, err);
	case OPT_MEMORY_RESERVATION:
		r->memory.reservation.set = true;
		return parse_bytes("--memory-reservation", arg, &r->memory.reservation.v, err);
	case OPT_MEMORY_SWAP:
		r->memory.swap.set = true;
		return parse_bytes("--memory-swap", arg, &r->memory.swap.v, err);
	case OPT_KERNEL_MEMORY:
		r->memory.kernel.set = true;
		return parse_bytes("--kernel-memory", arg, &r->memory.kernel.v, err);
	case OPT_KERNEL_MEMORY_TCP:
		r->memory.kernel_tcp.set = true;
		return parse_bytes("--kernel-memory-tcp", arg, &r->memory.kernel_tcp.v, err);
	case OPT_CPU_SHARES:
		r->cpu.shares.set = true;
		return parse_u64_flag("--cpu-shares", arg, &r->cpu.shares.v, err);
	case OPT_CPU_QUOTA:
		r->cpu.quota.set = true;
		return parse_i64_flag("--cpu-quota", arg, &r->cpu.quota.v, err);
	case OPT_CPU_PERIOD:
		r->cpu.period.set = true;
		return parse_u64_flag("--cpu-period", arg, &r->cpu.period.v, err);
	case OPT_CPU_RT_PERIOD:
		r->cpu.realtime_period.set = true;
		return parse_u64_flag("--cpu-rt-period", arg, &r->cpu.realtime_period.v, err);
	case OPT_CPU_RT_RUNTIME:
		r->cpu.realtime_runtime.set = true;
		return parse_i64_flag("--cpu-rt-runtime", arg, &r->cpu.realtime_runtime.v, err);
	case OPT_CPUSET_CPUS:
		r->cpu.cpus = (char *)arg;
		return 0;
	case OPT_CPUSET_MEMS:
		r->cpu.mems = (char *)arg;
		return 0;
	case OPT_PIDS_LIMIT:
		r->pids.limit.set = true;
		return parse_i64_flag("--pids-limit", arg, &r->pids.limit.v, err);
	case OPT_BLKIO_WEIGHT:
		r->block_io.weight.set = true;
		if (parse_u64_flag("--blkio-weight", arg, &r->block_io.weight.v, err) < 0)
			return -1;
		if (r->block_io.weight.v != 0 && (r->block_io.weight.v < 10 || r->block_io.weight.v > 1000))
			return ocr_fail(err, EINVAL, "update: --blkio-weight: %s is outside 10..1000", arg);
		return 0;
	default:
		return 1;
	}
}

int cmd_update(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"resources", required_argument, NULL, 'r'},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"memory-reservation", required_argument, NULL, OPT_MEMORY_RESERVATION},
		{"memory-swap", required_argument, NULL, OPT_MEMORY_SWAP},
		{"kernel-memory", required_argument, NULL, OPT_KERNEL_MEMORY},
		{"kernel-memory-tcp", required_argument, NULL, OPT_KERNEL_MEMORY_TCP},
		{"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
		{"cpu-share", required_argument, NULL, OPT_CPU_SHARES},
		{"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},
		{"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},
		{"cpu-rt-period", required_argument, NULL, OPT_CPU_RT_PERIOD},
		{"cpu-rt-runtime", required_argument, NULL, OPT_CPU_RT_RUNTIME},
		{"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
		{"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
		{"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
		{"blkio-weight", required_argument, NULL, OPT_BLKIO_WEIGHT},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct spec_resources flags = {0}, *r = &flags;
	const char *file = NULL, *id;
	void *arena = NULL;
	int c, rc = -1, n_flags = 0;

	while ((c = cmd_getopt(argc, argv, "r:h", opts, "update", err)) != -1) {
		if (c == 'h') {
			cmd_print_help("update");
			return 0;
		}
		if (c == 'r') {
			file = optarg;
			continue;
		}
		if (c == '?' || update_flag(c, optarg, &flags, err) != 0)
			return -1;
		n_flags++;
	}
	if (cmd_positional(argc, argv, 1, false, "update", err) < 0)
		return -1;
	id = argv[optind];
	if (file == NULL && n_flags == 0)
		return ocr_fail(err, EINVAL,
				"update: nothing to change: give --resources FILE or a flag such as --memory "
				"(see `ocirt-rootless update --help`)");
	if (file) {
		/* The file first; flags given as well override its fields. */
		if (read_resources(file, &r, &arena, err) < 0)
			return -1;
		optind = 0;
		while ((c = cmd_getopt(argc, argv, "r:h", opts, "update", err)) != -1)
			if (c != 'r')
				update_flag(c, optarg, r, err);
	}
	rc = container_update(ctx, id, r, err) < 0 ? -1 : 0;
	if (arena)
		spec_arena_free(arena);
	return rc;
}

/* ---- events ---------------------------------------------------------------- */

/* A Go-style duration as runc takes it: "5s", "500ms", "1m", "1h"; a bare
 * number is seconds. */
static int parse_interval(const char *s, unsigned *ret_ms, struct ocr_error *err)
{
	char *end;
	double v;
	double scale = 1000;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v <= 0)
		goto bad;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60000;
	else if (strcmp(end, "h") == 0)
		scale = 3600000;
	else
		goto bad;
	if (v * scale < 1 || v * scale > 86400000)
		goto bad;
	*ret_ms = (unsigned)(v * scale);
	return 0;
bad:
	return ocr_fail(err, EINVAL, "events: --interval: `%s` is not a duration between 1ms and 24h (e.g. 5s, 500ms)",
			s);
}

int cmd_events(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"stats", no_argument, NULL, 's'},
		{"interval", required_argument, NULL, 'i'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct events_opts o = {.interval_ms = 5000};
	int c;

	while ((c = cmd_getopt(argc, argv, "h", opts, "events", err)) != -1) {
		switch (c) {
		case 's':
			o.stats_once = true;
			break;
		case 'i':
			if (parse_interval(optarg, &o.interval_ms, err) < 0)
				return -1;
			break;
		case 'h':
			cmd_print_help("events");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, false, "events", err) < 0)
		return -1;
	return container_events(ctx, argv[optind], &o, stdout, err) < 0 ? -1 : 0;
}

/* ---- ps ---------------------------------------------------------------------- */

int cmd_ps(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;

	/* "+": options end at the id; what follows goes to ps(1). */
	while ((c = cmd_getopt(argc, argv, "+f:h", opts, "ps", err)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
				return ocr_fail(err, EINVAL, "ps: --format `%s` is not table or json", optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'h':
			cmd_print_help("ps");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, true, "ps", err) < 0)
		return -1;
	if (json && argc - optind > 1)
		return ocr_fail(err, EINVAL, "ps: ps options cannot be combined with --format json");
	return container_ps(ctx, argv[optind], json, argv + optind + 1, stdout, err) < 0 ? -1 : 0;
}
