/* Unit tests of the config.json parser (src/spec.c) and of the default
 * spec (src/spec-default.c). JSON in this file is written with single
 * quotes for readability; json() turns them into double quotes. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spec.h"
#include "tap.h"
#include "utils.h"

/* The test's copy of S with ' replaced by "; freed at the next call. */
static const char *json(const char *s)
{
	static char *buf;
	char *p;

	free(buf);
	buf = xstrdup(s);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return buf;
}

static struct spec *parse_ok(const char *text, const char *what)
{
	struct ocr_error err = {0};
	struct spec *spec = NULL;
	const char *doc = json(text);

	if (!ok(spec_parse(doc, strlen(doc), "config.json", &spec, &err) == 0, "%s parses", what))
		diag("error: %s", err.msg);
	return spec;
}

/* Parse TEXT, expect failure with exactly MSG. */
static void parse_fails(const char *text, const char *msg)
{
	struct ocr_error err = {0};
	struct spec *spec = NULL;
	const char *doc = json(text);
	int r = spec_parse(doc, strlen(doc), "config.json", &spec, &err);

	if (r == 0) {
		ok(false, "rejected: %s", msg);
		spec_free(spec);
		return;
	}
	is_str(err.msg, msg, "rejected: %s", msg);
}

static const char full_config[] =
	"{'ociVersion': '1.2.0',"
	" 'root': {'path': 'rootfs', 'readonly': true},"
	" 'hostname': 'box', 'domainname': 'example.org',"
	" 'x-unknown-key': {'ignored': [1, 2, 3]},"
	" 'process': {"
	"   'terminal': true, 'consoleSize': {'height': 25, 'width': 80},"
	"   'user': {'uid': 1000, 'gid': 100, 'umask': 18, 'additionalGids': [5, 4294967295],"
	"            'username': 'me'},"
	"   'args': ['/bin/sh', '-c', 'echo hi'],"
	"   'env': ['PATH=/bin', 'EMPTY='],"
	"   'cwd': '/work',"
	"   'capabilities': {'bounding': ['CAP_KILL', 'CAP_SYS_ADMIN'], 'effective': ['CAP_KILL'],"
	"                    'inheritable': [], 'permitted': ['CAP_KILL'], 'ambient': ['CAP_NET_RAW']},"
	"   'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1024, 'hard': 4096},"
	"               {'type': 'RLIMIT_CORE', 'soft': 18446744073709551615,"
	"                'hard': 18446744073709551615}],"
	"   'noNewPrivileges': true, 'apparmorProfile': 'prof', 'selinuxLabel': 'lbl',"
	"   'oomScoreAdj': -1000,"
	"   'ioPriority': {'class': 'IOPRIO_CLASS_IDLE', 'priority': 7},"
	"   'scheduler': {'policy': 'SCHED_DEADLINE', 'nice': -5, 'priority': 3,"
	"                 'flags': ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_UTIL_CLAMP_MAX'],"
	"                 'runtime': 100, 'deadline': 200, 'period': 300}},"
	" 'mounts': [{'destination': '/proc', 'type': 'proc', 'source': 'proc'},"
	"            {'destination': '/data', 'source': '/srv/data', 'options': ['rbind', 'ro'],"
	"             'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}],"
	"             'gidMappings': [{'containerID': 0, 'hostID': 100, 'size': 1},"
	"                             {'containerID': 1, 'hostID': 100000, 'size': 65536}]}],"
	" 'hooks': {'prestart': [{'path': '/bin/old'}],"
	"           'createRuntime': [{'path': '/bin/a', 'args': ['a', '1'], 'env': ['X=1'],"
	"                              'timeout': 5}, {'path': '/bin/b'}],"
	"           'createContainer': [], 'startContainer': [{'path': '/bin/c'}],"
	"           'poststart': [{'path': '/bin/d'}], 'poststop': [{'path': '/bin/e'}]},"
	" 'annotations': {'org.example.a': 'one', 'b': ''},"
	" 'linux': {"
	"   'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/run/netns/x'},"
	"                  {'type': 'mount'}, {'type': 'ipc'}, {'type': 'uts'}, {'type': 'user'},"
	"                  {'type': 'cgroup'}, {'type': 'time', 'path': ''}],"
	"   'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1},"
	"                   {'containerID': 1, 'hostID': 100000, 'size': 65536}],"
	"   'gidMappings': [{'containerID': 0, 'hostID': 100, 'size': 1}],"
	"   'timeOffsets': {'monotonic': {'secs': -86400, 'nanosecs': 5},"
	"                   'boottime': {'secs': 3600, 'nanosecs': 999999999}},"
	"   'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229,"
	"                'fileMode': 438, 'uid': 0, 'gid': 0},"
	"               {'path': '/dev/fifo', 'type': 'p'}],"
	"   'cgroupsPath': 'user.slice:ocirt:c1',"
	"   'resources': {"
	"     'devices': [{'allow': false, 'access': 'rwm'},"
	"                 {'allow': true, 'type': 'c', 'major': 10, 'minor': 229, 'access': 'rw'}],"
	"     'memory': {'limit': 536870912, 'reservation': 1024, 'swap': -1, 'kernel': 1,"
	"                'kernelTCP': 2, 'swappiness': 60, 'disableOOMKiller': true,"
	"                'useHierarchy': true, 'checkBeforeUpdate': true},"
	"     'cpu': {'shares': 1024, 'quota': 50000, 'burst': 10, 'period': 100000,"
	"             'realtimeRuntime': 950, 'realtimePeriod': 1000, 'cpus': '0-1', 'mems': '0',"
	"             'idle': 1},"
	"     'pids': {'limit': 64},"
	"     'blockIO': {'weight': 500, 'leafWeight': 300,"
	"                 'weightDevice': [{'major': 8, 'minor': 0, 'weight': 600}],"
	"                 'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
	"                 'throttleWriteBpsDevice': [{'major': 8, 'minor': 16, 'rate': 2}],"
	"                 'throttleReadIOPSDevice': [{'major': 8, 'minor': 32, 'rate': 3}],"
	"                 'throttleWriteIOPSDevice': [{'major': 8, 'minor': 48, 'rate': 4},"
	"                                             {'major': 8, 'minor': 64, 'rate': 5}]},"
	"     'hugepageLimits': [{'pageSize': '2MB', 'limit': 209715200}],"
	"     'network': {'classID': 1048577, 'priorities': [{'name': 'eth0', 'priority': 500}]},"
	"     'rdma': {'mlx5_1': {'hcaHandles': 3}},"
	"     'unified': {'memory.high': '1G', 'io.weight': 'default 100'}},"
	"   'sysctl': {'net.ipv4.ip_forward': '1'},"
	"   'seccomp': {'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 38,"
	"               'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],"
	"               'flags': ['SECCOMP_FILTER_FLAG_LOG'],"
	"               'listenerPath': '/run/seccomp.sock', 'listenerMetadata': 'meta',"
	"               'syscalls': [{'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},"
	"                            {'names': ['personality'], 'action': 'SCMP_ACT_ERRNO',"
	"                             'errnoRet': 1,"
	"                             'args': [{'index': 0, 'value': 4294967295, 'op': 'SCMP_CMP_EQ'},"
	"                                      {'index': 5, 'value': 18446744073709551615,"
	"                                       'valueTwo': 8, 'op': 'SCMP_CMP_MASKED_EQ'}]}]},"
	"   'rootfsPropagation': 'rslave',"
	"   'maskedPaths': ['/proc/kcore'], 'readonlyPaths': ['/proc/sys', '/proc/bus'],"
	"   'mountLabel': 'system_u:object_r:container_file_t',"
	"   'personality': {'domain': 'LINUX32', 'flags': []}}}";

static void test_full_process(const struct spec_process *p)
{
	ok(p->terminal && p->has_console_size, "process.terminal, consoleSize present");
	is_int(p->console_height * 1000 + p->console_width, 25080, "consoleSize 25x80");
	is_int(p->user.uid, 1000, "user.uid");
	is_int(p->user.gid, 100, "user.gid");
	ok(p->user.umask.set && p->user.umask.v == 18, "user.umask");
	ok(p->user.n_additional_gids == 2 && p->user.additional_gids[1] == 4294967295u,
	   "user.additionalGids up to 4294967295");
	is_str(p->user.username, "me", "user.username");
	ok(p->n_args == 3 && p->args[3] == NULL, "3 args, NULL-terminated");
	is_str(p->args[2], "echo hi", "args[2]");
	ok(p->n_env == 2 && strcmp(p->env[1], "EMPTY=") == 0 && p->env[2] == NULL, "env");
	is_str(p->cwd, "/work", "cwd");
	ok(p->caps != NULL && p->caps->n_bounding == 2 && p->caps->n_effective == 1 && p->caps->n_inheritable == 0 &&
		   p->caps->n_permitted == 1 && p->caps->n_ambient == 1,
	   "capability set sizes");
	is_str(p->caps->bounding[1], "CAP_SYS_ADMIN", "capabilities.bounding[1]");
	is_str(p->caps->ambient[0], "CAP_NET_RAW", "capabilities.ambient[0]");
	ok(p->n_rlimits == 2 && p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 1024 &&
		   p->rlimits[0].hard == 4096,
	   "rlimits[0] NOFILE 1024/4096");
	ok(p->rlimits[1].resource == RLIMIT_CORE && p->rlimits[1].soft == UINT64_MAX &&
		   p->rlimits[1].hard == UINT64_MAX,
	   "rlimits[1] CORE 18446744073709551615 (above INT64_MAX)");
	is_str(p->rlimits[1].name, "RLIMIT_CORE", "rlimit name kept");
	ok(p->no_new_privileges, "noNewPrivileges");
	is_str(p->apparmor_profile, "prof", "apparmorProfile");
	is_str(p->selinux_label, "lbl", "selinuxLabel");
	ok(p->oom_score_adj.set && p->oom_score_adj.v == -1000, "oomScoreAdj -1000");
	ok(p->io_priority.set && p->io_priority.klass == 3 && p->io_priority.priority == 7, "ioPriority IDLE/7");
	ok(p->scheduler.set && p->scheduler.policy == SCHED_DEADLINE && p->scheduler.nice == -5 &&
		   p->scheduler.priority == 3,
	   "scheduler policy, nice, priority");
	is_int((long long)p->scheduler.flags, 0x41, "scheduler flags RESET_ON_FORK|UTIL_CLAMP_MAX");
	ok(p->scheduler.runtime == 100 && p->scheduler.deadline == 200 && p->scheduler.period == 300,
	   "scheduler runtime/deadline/period");
}

static void test_full_top(const struct spec *s)
{
	is_str(s->oci_version, "1.2.0", "ociVersion");
	is_str(s->root_path, "rootfs", "root.path");
	ok(s->root_readonly, "root.readonly");
	is_str(s->hostname, "box", "hostname");
	is_str(s->domainname, "example.org", "domainname");
	ok(s->n_mounts == 2 && s->mounts[0].options == NULL && s->mounts[1].type == NULL,
	   "mounts: options and type absent where not given");
	ok(s->mounts[1].n_options == 2 && strcmp(s->mounts[1].options[1], "ro") == 0 && s->mounts[1].options[2] == NULL,
	   "mounts[1].options");
	is_str(s->mounts[1].source, "/srv/data", "mounts[1].source");
	ok(s->mounts[1].n_uid_mappings == 1 && s->mounts[1].uid_mappings[0].host_id == 1000 &&
		   s->mounts[1].n_gid_mappings == 2 && s->mounts[1].gid_mappings[1].size == 65536,
	   "mounts[1] id mappings");
	ok(s->hooks.n_hooks[SPEC_HOOK_PRESTART] == 1 && s->hooks.n_hooks[SPEC_HOOK_CREATE_RUNTIME] == 2 &&
		   s->hooks.n_hooks[SPEC_HOOK_CREATE_CONTAINER] == 0 &&
		   s->hooks.n_hooks[SPEC_HOOK_START_CONTAINER] == 1 && s->hooks.n_hooks[SPEC_HOOK_POSTSTART] == 1 &&
		   s->hooks.n_hooks[SPEC_HOOK_POSTSTOP] == 1,
	   "all six hook kinds");
	{
		const struct spec_hook *h = &s->hooks.hooks[SPEC_HOOK_CREATE_RUNTIME][0];

		ok(strcmp(h->path, "/bin/a") == 0 && strcmp(h->args[1], "1") == 0 && h->args[2] == NULL &&
			   strcmp(h->env[0], "X=1") == 0 && h->timeout.set && h->timeout.v == 5,
		   "createRuntime[0] path, args, env, timeout");
		h = &s->hooks.hooks[SPEC_HOOK_CREATE_RUNTIME][1];
		ok(h->args == NULL && h->env == NULL && !h->timeout.set, "hook without extras");
	}
	is_str(spec_annotation(s, "org.example.a"), "one", "annotation");
	is_str(spec_annotation(s, "b"), "", "empty annotation");
	is_str(spec_annotation(s, "nope"), NULL, "missing annotation");
}

static void test_full_linux(const struct spec_linux *l)
{
	ok(l->n_namespaces == 8 && l->namespaces[1].type == CLONE_NEWNET &&
		   strcmp(l->namespaces[1].path, "/run/netns/x") == 0,
	   "namespaces, network with path");
	ok(l->namespaces[7].type == CLONE_NEWTIME && l->namespaces[7].path == NULL,
	   "time namespace, \"\" path is no path");
	ok(l->n_uid_mappings == 2 && l->uid_mappings[1].container_id == 1 && l->uid_mappings[1].host_id == 100000 &&
		   l->uid_mappings[1].size == 65536,
	   "uidMappings");
	ok(l->n_gid_mappings == 1 && l->gid_mappings[0].host_id == 100, "gidMappings");
	ok(l->n_time_offsets == 2 && l->time_offsets[0].clock == CLOCK_MONOTONIC && l->time_offsets[0].secs == -86400 &&
		   l->time_offsets[0].nanosecs == 5 && l->time_offsets[1].clock == CLOCK_BOOTTIME &&
		   l->time_offsets[1].nanosecs == 999999999,
	   "timeOffsets");
	ok(l->n_devices == 2 && l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229 &&
		   l->devices[0].file_mode.v == 438 && l->devices[0].uid.set && l->devices[1].type == 'p' &&
		   !l->devices[1].file_mode.set,
	   "devices");
	is_str(l->cgroups_path, "user.slice:ocirt:c1", "cgroupsPath");
	ok(l->n_sysctl == 1 && strcmp(l->sysctl[0].key, "net.ipv4.ip_forward") == 0 &&
		   strcmp(l->sysctl[0].value, "1") == 0,
	   "sysctl");
	ok(l->has_rootfs_propagation && l->rootfs_propagation == (MS_SLAVE | MS_REC), "rootfsPropagation rslave");
	ok(l->n_masked_paths == 1 && l->n_readonly_paths == 2 && l->readonly_paths[2] == NULL &&
		   strcmp(l->readonly_paths[1], "/proc/bus") == 0,
	   "maskedPaths, readonlyPaths");
	is_str(l->mount_label, "system_u:object_r:container_file_t", "mountLabel");
	ok(l->personality_domain.set && l->personality_domain.v == PER_LINUX32, "personality");
}

static void test_full_resources(const struct spec_resources *r)
{
	if (!ok(r != NULL, "linux.resources present"))
		return;
	ok(r->n_devices == 2 && !r->devices[0].allow && r->devices[0].type == 'a' && !r->devices[0].major.set &&
		   strcmp(r->devices[0].access, "rwm") == 0,
	   "device rule 0: deny all");
	ok(r->devices[1].allow && r->devices[1].type == 'c' && r->devices[1].major.v == 10 &&
		   r->devices[1].minor.v == 229 && strcmp(r->devices[1].access, "rw") == 0,
	   "device rule 1: allow c 10:229 rw");
	ok(r->memory.limit.v == 536870912 && r->memory.reservation.v == 1024 && r->memory.swap.set &&
		   r->memory.swap.v == -1 && r->memory.kernel.v == 1 && r->memory.kernel_tcp.v == 2 &&
		   r->memory.swappiness.v == 60 && r->memory.disable_oom_killer && r->memory.use_hierarchy.set &&
		   r->memory.use_hierarchy.v == 1 && r->memory.check_before_update,
	   "memory");
	ok(r->cpu.shares.v == 1024 && r->cpu.quota.v == 50000 && r->cpu.burst.v == 10 && r->cpu.period.v == 100000 &&
		   r->cpu.realtime_runtime.v == 950 && r->cpu.realtime_period.v == 1000 && r->cpu.idle.v == 1 &&
		   strcmp(r->cpu.cpus, "0-1") == 0 && strcmp(r->cpu.mems, "0") == 0,
	   "cpu");
	ok(r->pids.limit.set && r->pids.limit.v == 64, "pids.limit");
	ok(r->block_io.weight.v == 500 && r->block_io.leaf_weight.v == 300 && r->block_io.n_weight_device == 1 &&
		   r->block_io.weight_device[0].weight.v == 600 && !r->block_io.weight_device[0].leaf_weight.set,
	   "blockIO weights");
	ok(r->block_io.n_throttle_read_bps == 1 && r->block_io.throttle_read_bps[0].rate == 1048576 &&
		   r->block_io.throttle_write_bps[0].minor == 16 && r->block_io.throttle_read_iops[0].rate == 3 &&
		   r->block_io.n_throttle_write_iops == 2 && r->block_io.throttle_write_iops[1].rate == 5,
	   "blockIO throttles");
	ok(r->n_hugepage_limits == 1 && strcmp(r->hugepage_limits[0].page_size, "2MB") == 0 &&
		   r->hugepage_limits[0].limit == 209715200,
	   "hugepageLimits");
	ok(r->network.class_id.v == 1048577 && r->network.has_priorities && r->has_rdma, "network, rdma");
	ok(r->n_unified == 2 && strcmp(r->unified[1].key, "io.weight") == 0 &&
		   strcmp(r->unified[1].value, "default 100") == 0,
	   "unified");
}

static void test_full_seccomp(const struct spec_seccomp *s)
{
	if (!ok(s != NULL, "linux.seccomp present"))
		return;
	ok(s->default_action == SPEC_SCMP_ERRNO && s->default_errno_ret.set && s->default_errno_ret.v == 38,
	   "seccomp defaultAction, defaultErrnoRet");
	ok(s->n_architectures == 2 && strcmp(s->architectures[1], "SCMP_ARCH_X86") == 0 && s->n_flags == 1,
	   "seccomp architectures, flags");
	ok(strcmp(s->listener_path, "/run/seccomp.sock") == 0 && strcmp(s->listener_metadata, "meta") == 0,
	   "seccomp listener");
	ok(s->n_syscalls == 2 && s->syscalls[0].n_names == 2 && s->syscalls[0].action == SPEC_SCMP_ALLOW &&
		   !s->syscalls[0].errno_ret.set,
	   "seccomp syscalls[0]");
	ok(s->syscalls[1].errno_ret.v == 1 && s->syscalls[1].n_args == 2 &&
		   s->syscalls[1].args[0].value == 4294967295u && s->syscalls[1].args[0].op == SPEC_SCMP_CMP_EQ,
	   "seccomp syscalls[1] args[0]");
	ok(s->syscalls[1].args[1].index == 5 && s->syscalls[1].args[1].value == UINT64_MAX &&
		   s->syscalls[1].args[1].value_two == 8 && s->syscalls[1].args[1].op == SPEC_SCMP_CMP_MASKED_EQ,
	   "seccomp args[1]: index 5, value 2^64-1, MASKED_EQ");
}

static void test_full(void)
{
	struct spec *s = parse_ok(full_config, "full config");

	if (s == NULL)
		return;
	test_full_top(s);
	if (ok(s->process != NULL, "process present"))
		test_full_process(s->process);
	if (ok(s->linux_ != NULL, "linux present")) {
		test_full_linux(s->linux_);
		test_full_resources(s->linux_->resources);
		test_full_seccomp(s->linux_->seccomp);
	}
	ok(spec_namespace(s, CLONE_NEWNET) == &s->linux_->namespaces[1], "spec_namespace(NET)");
	spec_free(s);
}

static bool has_option(const struct spec_mount *m, const char *opt)
{
	size_t i;

	for (i = 0; i < m->n_options; i++)
		if (strcmp(m->options[i], opt) == 0)
			return true;
	return false;
}

static const struct spec_mount *find_mount(const struct spec *s, const char *dest)
{
	size_t i;

	for (i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, dest) == 0)
			return &s->mounts[i];
	return NULL;
}

static struct spec *parse_default(bool rootless, const char *what)
{
	struct ocr_error err = {0};
	struct spec *s = NULL;
	char *text = spec_default_json(rootless, 4242, 4343);

	if (!ok(text != NULL, "%s: spec_default_json", what))
		return NULL;
	ok(str_has_prefix(text, "{\n    \"ociVersion\": \"1.2.0\",\n    \"process\": {\n"),
	   "%s: 4-space indent, runc's key order", what);
	ok(text[strlen(text) - 1] == '}', "%s: ends with the closing brace, no newline", what);
	if (!ok(spec_parse(text, strlen(text), "config.json", &s, &err) == 0, "%s parses", what))
		diag("error: %s", err.msg);
	free(text);
	return s;
}

static void test_default(void)
{
	struct spec *s = parse_default(false, "default spec");
	const struct spec_mount *m;

	if (s != NULL) {
		is_str(s->hostname, "ocirt", "default: hostname");
		ok(s->process->terminal && s->process->n_args == 1 && strcmp(s->process->args[0], "sh") == 0 &&
			   s->process->n_env == 2 && strcmp(s->process->cwd, "/") == 0 && s->process->no_new_privileges,
		   "default: process");
		ok(s->process->caps->n_bounding == 3 && s->process->caps->n_effective == 3 &&
			   s->process->caps->n_permitted == 3 && s->process->caps->n_ambient == 0 &&
			   strcmp(s->process->caps->bounding[2], "CAP_NET_BIND_SERVICE") == 0,
		   "default: runc's capabilities, no ambient");
		ok(s->process->n_rlimits == 1 && s->process->rlimits[0].hard == 1024, "default: RLIMIT_NOFILE 1024");
		ok(strcmp(s->root_path, "rootfs") == 0 && s->root_readonly, "default: root");
		is_int((long long)s->n_mounts, 7, "default: 7 mounts");
		m = find_mount(s, "/dev/pts");
		ok(m != NULL && has_option(m, "gid=5"), "default: devpts has gid=5");
		m = find_mount(s, "/sys");
		ok(m != NULL && strcmp(m->type, "sysfs") == 0, "default: /sys is sysfs");
		is_int((long long)s->linux_->n_namespaces, 6, "default: 6 namespaces");
		ok(spec_namespace(s, CLONE_NEWNET) != NULL && spec_namespace(s, CLONE_NEWCGROUP) &&
			   spec_namespace(s, CLONE_NEWUSER) == NULL,
		   "default: network and cgroup, no user namespace");
		ok(s->linux_->resources != NULL && s->linux_->resources->n_devices == 1 &&
			   !s->linux_->resources->devices[0].allow,
		   "default: deny-all device rule");
		ok(s->linux_->n_masked_paths == 11 && s->linux_->n_readonly_paths == 5,
		   "default: masked and readonly paths");
		spec_free(s);
	}
	s = parse_default(true, "rootless default spec");
	if (s != NULL) {
		is_int((long long)s->linux_->n_namespaces, 6, "rootless: 6 namespaces");
		ok(spec_namespace(s, CLONE_NEWNET) == NULL &&
			   spec_namespace(s, CLONE_NEWUSER) == &s->linux_->namespaces[5],
		   "rootless: no network namespace, user namespace last");
		ok(s->linux_->n_uid_mappings == 1 && s->linux_->uid_mappings[0].container_id == 0 &&
			   s->linux_->uid_mappings[0].host_id == 4242 && s->linux_->uid_mappings[0].size == 1,
		   "rootless: uid map 0 -> uid, size 1");
		ok(s->linux_->n_gid_mappings == 1 && s->linux_->gid_mappings[0].host_id == 4343,
		   "rootless: gid map 0 -> gid");
		m = find_mount(s, "/dev/pts");
		ok(m != NULL && !has_option(m, "gid=5") && has_option(m, "mode=0620"),
		   "rootless: devpts without gid=5");
		m = find_mount(s, "/sys");
		ok(m != NULL && strcmp(m->type, "none") == 0 && strcmp(m->source, "/sys") == 0 &&
			   has_option(m, "rbind") && has_option(m, "ro") && has_option(m, "nodev"),
		   "rootless: /sys is a read-only rbind");
		ok(find_mount(s, "/sys/fs/cgroup") != NULL, "rootless: cgroup mount kept (as runc)");
		ok(s->linux_->resources == NULL, "rootless: no resources");
		spec_free(s);
	}
}

#define V "'ociVersion': '1.2.0'"
#define PROC(x) "{" V ", 'process': {'args': ['sh'], 'cwd': '/', " x "}}"
#define LINUX(x) "{" V ", 'linux': {" x "}}"
#define RES(x) LINUX("'resources': {" x "}")
#define SCMP(x) LINUX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', " x "}")

static void test_errors_top(void)
{
	parse_fails("{}", "config.json: ociVersion: required field is missing");
	parse_fails("{'ociVersion': 1}", "config.json: ociVersion: expected a string");
	parse_fails("[1]", "config.json: expected an object at the top level");
	parse_fails("{" V ", 'root': {'readonly': true}}", "config.json: root.path: required field is missing");
	parse_fails("{" V ", 'root': {'path': 'r', 'readonly': 1}}", "config.json: root.readonly: expected a boolean");
	parse_fails("{" V ", 'hostname': ['x']}", "config.json: hostname: expected a string");
	parse_fails("{" V ", 'mounts': {}}", "config.json: mounts: expected an array");
	parse_fails("{" V ", 'mounts': [{'destination': '/a'}, {'destination': '/b'},"
		    " {'destination': '/c'}, {'destination': 'rel'}]}",
		    "config.json: mounts[3].destination: must be an absolute path");
	parse_fails("{" V ", 'mounts': [{'type': 'tmpfs'}]}",
		    "config.json: mounts[0].destination: required field is missing");
	parse_fails("{" V ", 'mounts': [{'destination': '/a', 'options': ['ro', 2]}]}",
		    "config.json: mounts[0].options[1]: expected a string");
	parse_fails("{" V ", 'mounts': [{'destination': '/a', 'uidMappings':"
		    " [{'containerID': 0, 'hostID': 0, 'size': 0}]}]}",
		    "config.json: mounts[0].uidMappings[0].size: must be greater than 0");
	parse_fails("{" V ", 'hooks': {'poststop': [{'path': 'x'}]}}",
		    "config.json: hooks.poststop[0].path: must be an absolute path");
	parse_fails("{" V ", 'hooks': {'prestart': [{'path': '/x', 'timeout': 0}]}}",
		    "config.json: hooks.prestart[0].timeout: 0 is out of range 1..9223372036854775807");
	parse_fails("{" V ", 'hooks': {'createRuntime': [{'path': '/x', 'args': 'a'}]}}",
		    "config.json: hooks.createRuntime[0].args: expected an array");
	parse_fails("{" V ", 'hooks': {'startContainer': [{'path': '/x', 'env': ['NOEQ']}]}}",
		    "config.json: hooks.startContainer[0].env[0]: expected KEY=VALUE, got `NOEQ`");
	parse_fails("{" V ", 'annotations': {'a': 'b', 'c.d': 1}}",
		    "config.json: annotations[\"c.d\"]: expected a string");
	parse_fails("{" V ", 'annotations': []}", "config.json: annotations: expected an object");
}

static void test_errors_process(void)
{
	parse_fails("{" V ", 'process': {'cwd': '/'}}", "config.json: process.args: required field is missing");
	parse_fails("{" V ", 'process': {'args': [], 'cwd': '/'}}", "config.json: process.args: must not be empty");
	parse_fails("{" V ", 'process': {'args': ['a', 'b', 3], 'cwd': '/'}}",
		    "config.json: process.args[2]: expected a string");
	parse_fails("{" V ", 'process': {'args': ['sh'], 'cwd': 'rel'}}",
		    "config.json: process.cwd: must be an absolute path");
	parse_fails("{" V ", 'process': {'args': ['sh']}}", "config.json: process.cwd: required field is missing");
	parse_fails(PROC("'env': ['A=1', 'B']"), "config.json: process.env[1]: expected KEY=VALUE, got `B`");
	parse_fails(PROC("'user': {'uid': 4294967296}"),
		    "config.json: process.user.uid: 4294967296 is out of range 0..4294967295");
	parse_fails(PROC("'user': {'gid': -1}"), "config.json: process.user.gid: -1 is out of range 0..4294967295");
	parse_fails(PROC("'user': {'uid': 1.5}"), "config.json: process.user.uid: expected an integer");
	parse_fails(PROC("'user': {'umask': 512}"), "config.json: process.user.umask: 512 is out of range 0..511");
	parse_fails(PROC("'user': {'additionalGids': [1, 'x']}"),
		    "config.json: process.user.additionalGids[1]: expected an integer");
	parse_fails(PROC("'capabilities': {'effective': ['CAP_KILL', 'cap_chown']}"),
		    "config.json: process.capabilities.effective[1]: invalid capability name `cap_chown`");
	parse_fails(PROC("'capabilities': {'ambient': ['CAP_']}"),
		    "config.json: process.capabilities.ambient[0]: invalid capability name `CAP_`");
	parse_fails(PROC("'rlimits': [{'type': 'RLIMIT_FOO', 'soft': 1, 'hard': 1}]"),
		    "config.json: process.rlimits[0].type: unknown rlimit `RLIMIT_FOO`");
	parse_fails(PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1}]"),
		    "config.json: process.rlimits[0].hard: required field is missing");
	parse_fails(PROC("'rlimits': [{'type': 'RLIMIT_NPROC', 'soft': 1, 'hard': 1},"
			 " {'type': 'RLIMIT_NPROC', 'soft': 2, 'hard': 2}]"),
		    "config.json: process.rlimits[1].type: duplicate rlimit `RLIMIT_NPROC`");
	parse_fails(PROC("'rlimits': [{'type': 'RLIMIT_NPROC', 'soft': 2, 'hard': 1}]"),
		    "config.json: process.rlimits[0]: soft limit 2 is above the hard limit 1");
	parse_fails(PROC("'rlimits': [{'type': 'RLIMIT_AS', 'soft': 1,"
			 " 'hard': 18446744073709551616}]"),
		    "config.json: line 1 column 137: too big integer near '18446744073709551616'");
	parse_fails(PROC("'oomScoreAdj': 1001"), "config.json: process.oomScoreAdj: 1001 is out of range -1000..1000");
	parse_fails(PROC("'ioPriority': {'class': 'IOPRIO_CLASS_NONE', 'priority': 0}"),
		    "config.json: process.ioPriority.class: unknown I/O priority class `IOPRIO_CLASS_NONE`");
	parse_fails(PROC("'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 8}"),
		    "config.json: process.ioPriority.priority: 8 is out of range 0..7");
	parse_fails(PROC("'scheduler': {'policy': 'SCHED_WHATEVER'}"),
		    "config.json: process.scheduler.policy: unknown scheduler policy `SCHED_WHATEVER`");
	parse_fails(PROC("'scheduler': {'policy': 'SCHED_RR', 'flags': ['SCHED_FLAG_NOPE']}"),
		    "config.json: process.scheduler.flags[0]: unknown scheduler flag `SCHED_FLAG_NOPE`");
	parse_fails(PROC("'scheduler': {'nice': 1}"),
		    "config.json: process.scheduler.policy: required field is missing");
	parse_fails(PROC("'consoleSize': {'height': 1}"),
		    "config.json: process.consoleSize.width: required field is missing");
	parse_fails(PROC("'terminal': 'yes'"), "config.json: process.terminal: expected a boolean");
	parse_fails("{" V ", 'process': {'args': 'sh', 'cwd': '/'}}", "config.json: process.args: expected an array");
}

static void test_errors_linux(void)
{
	parse_fails(LINUX("'namespaces': [{'type': 'pid'}, {'type': 'foo'}]"),
		    "config.json: linux.namespaces[1].type: unknown namespace type `foo`");
	parse_fails(LINUX("'namespaces': [{'type': 'pid'}, {'type': 'ipc'}, {'type': 'pid'}]"),
		    "config.json: linux.namespaces[2].type: duplicate namespace type `pid`");
	parse_fails(LINUX("'namespaces': [{'type': 'network', 'path': 'netns'}]"),
		    "config.json: linux.namespaces[0].path: must be an absolute path");
	parse_fails(LINUX("'namespaces': [{'path': '/x'}]"),
		    "config.json: linux.namespaces[0].type: required field is missing");
	parse_fails(LINUX("'uidMappings': [{'containerID': 0, 'hostID': 1}]"),
		    "config.json: linux.uidMappings[0].size: required field is missing");
	parse_fails(LINUX("'gidMappings': [{'containerID': 0, 'hostID': 4294967295, 'size': 2}]"),
		    "config.json: linux.gidMappings[0]: range goes past 4294967295");
	parse_fails(LINUX("'timeOffsets': {'realtime': {'secs': 1}}"),
		    "config.json: linux.timeOffsets: unknown clock `realtime`");
	parse_fails(LINUX("'timeOffsets': {'boottime': {'nanosecs': 1000000000}}"),
		    "config.json: linux.timeOffsets.boottime.nanosecs: 1000000000 is out of range 0..999999999");
	parse_fails(LINUX("'devices': [{'path': '/dev/x', 'type': 'q', 'major': 1, 'minor': 1}]"),
		    "config.json: linux.devices[0].type: unknown device type `q`");
	parse_fails(LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1}]"),
		    "config.json: linux.devices[0].minor: required field is missing");
	parse_fails(LINUX("'devices': [{'path': 'dev/x', 'type': 'p'}]"),
		    "config.json: linux.devices[0].path: must be an absolute path");
	parse_fails(LINUX("'sysctl': {'net.ipv4.ip_forward': 1}"),
		    "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string");
	parse_fails(LINUX("'rootfsPropagation': 'rshared2'"),
		    "config.json: linux.rootfsPropagation: unknown rootfs propagation `rshared2`");
	parse_fails(LINUX("'maskedPaths': ['/ok', 'proc/kcore']"),
		    "config.json: linux.maskedPaths[1]: must be an absolute path");
	parse_fails(LINUX("'readonlyPaths': [null]"), "config.json: linux.readonlyPaths[0]: expected a string");
	parse_fails(LINUX("'personality': {'domain': 'LINUX64'}"),
		    "config.json: linux.personality.domain: unknown personality domain `LINUX64`");
	parse_fails(LINUX("'cgroupsPath': 5"), "config.json: linux.cgroupsPath: expected a string");
}

static void test_errors_resources(void)
{
	parse_fails(RES("'devices': [{'allow': true, 'access': 'rwx'}]"),
		    "config.json: linux.resources.devices[0].access: `rwx` is not a combination of r, w, m");
	parse_fails(RES("'devices': [{'access': 'r'}]"),
		    "config.json: linux.resources.devices[0].allow: required field is missing");
	parse_fails(RES("'devices': [{'allow': true, 'type': 'u'}]"),
		    "config.json: linux.resources.devices[0].type: unknown device rule type `u`");
	parse_fails(RES("'memory': {'limit': '1G'}"), "config.json: linux.resources.memory.limit: expected an integer");
	parse_fails(RES("'memory': {'useHierarchy': 1}"),
		    "config.json: linux.resources.memory.useHierarchy: expected a boolean");
	parse_fails(RES("'memory': {'limit': 9223372036854775808}"),
		    "config.json: linux.resources.memory.limit: 9223372036854775808 is out of range "
		    "-9223372036854775808..9223372036854775807");
	parse_fails(RES("'cpu': {'shares': -2}"),
		    "config.json: linux.resources.cpu.shares: -2 is out of range 0..18446744073709551615");
	parse_fails(RES("'cpu': {'cpus': 1}"), "config.json: linux.resources.cpu.cpus: expected a string");
	parse_fails(RES("'pids': {'limit': true}"), "config.json: linux.resources.pids.limit: expected an integer");
	parse_fails(RES("'blockIO': {'weight': 65536}"),
		    "config.json: linux.resources.blockIO.weight: 65536 is out of range 0..65535");
	parse_fails(RES("'blockIO': {'weightDevice': [{'major': 8}]}"),
		    "config.json: linux.resources.blockIO.weightDevice[0].minor: required field is missing");
	parse_fails(RES("'blockIO': {'throttleWriteIOPSDevice': [{'major': 8, 'minor': 0}]}"),
		    "config.json: linux.resources.blockIO.throttleWriteIOPSDevice[0].rate: required field is missing");
	parse_fails(RES("'hugepageLimits': [{'pageSize': '2MB'}]"),
		    "config.json: linux.resources.hugepageLimits[0].limit: required field is missing");
	parse_fails(RES("'network': {'priorities': [{'name': 'eth0'}]}"),
		    "config.json: linux.resources.network.priorities[0].priority: required field is missing");
	parse_fails(RES("'rdma': []"), "config.json: linux.resources.rdma: expected an object");
	parse_fails(RES("'unified': {'memory.max': 5}"),
		    "config.json: linux.resources.unified[\"memory.max\"]: expected a string");
}

static void test_errors_seccomp(void)
{
	parse_fails(LINUX("'seccomp': {}"), "config.json: linux.seccomp.defaultAction: required field is missing");
	parse_fails(LINUX("'seccomp': {'defaultAction': 'SCMP_ACT_KILL_ALL'}"),
		    "config.json: linux.seccomp.defaultAction: unknown seccomp action `SCMP_ACT_KILL_ALL`");
	parse_fails(SCMP("'syscalls': [{'names': [], 'action': 'SCMP_ACT_LOG'}]"),
		    "config.json: linux.seccomp.syscalls[0].names: must not be empty");
	parse_fails(SCMP("'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ALLOW'},"
			 " {'names': ['x'], 'action': 'ALLOW'}]"),
		    "config.json: linux.seccomp.syscalls[1].action: unknown seccomp action `ALLOW`");
	parse_fails(SCMP("'syscalls': [{'names': ['x'], 'action': 'SCMP_ACT_ERRNO',"
			 " 'args': [{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}]"),
		    "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is out of range 0..5");
	parse_fails(SCMP("'syscalls': [{'names': ['x'], 'action': 'SCMP_ACT_ERRNO',"
			 " 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_ABOUT'}]}]"),
		    "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator `SCMP_CMP_ABOUT`");
	parse_fails(SCMP("'syscalls': [{'names': ['x'], 'action': 'SCMP_ACT_ERRNO',"
			 " 'args': [{'index': 0, 'op': 'SCMP_CMP_EQ'}]}]"),
		    "config.json: linux.seccomp.syscalls[0].args[0].value: required field is missing");
	parse_fails(SCMP("'defaultErrnoRet': 4294967296"),
		    "config.json: linux.seccomp.defaultErrnoRet: 4294967296 is out of range 0..4294967295");
	parse_fails(SCMP("'architectures': 'SCMP_ARCH_X86_64'"),
		    "config.json: linux.seccomp.architectures: expected an array");
}

static void test_syntax(void)
{
	parse_fails("{\n  'ociVersion': '1.2.0',\n  'hostname': 'x',,\n}",
		    "config.json: line 3 column 19: string or '}' expected near ','");
	{
		struct ocr_error err = {0};
		struct spec *s = NULL;
		const char *doc = json("{\n 'ociVersion': '1',\n  'x': tru\n}");

		ok(spec_parse(doc, strlen(doc), "config.json", &s, &err) < 0 &&
			   strstr(err.msg, "config.json: line 3 column") == err.msg,
		   "syntax error names line 3 (%s)", err.msg);
	}
	parse_fails("{'ociVersion': '1', 'ociVersion': '2'}",
		    "config.json: line 1 column 32: duplicate object key near '\"ociVersion\"'");
	parse_fails("", "config.json: line 1 column 0: '[' or '{' expected near end of file");
	/* A big number before the error on the same line must not shift the
	 * column we report (the parser sees a rewritten copy). */
	parse_fails("{" V ", 'process': {'rlimits': [{'soft': 18446744073709551615}}]}}",
		    "config.json: line 1 column 79: ']' expected near '}'");
	parse_fails("{" V ", 'hostname': 18446744073709551615}", "config.json: hostname: expected a string");
	parse_fails("{" V ", 'process': {'oomScoreAdj': 9999999999999999999}}",
		    "config.json: process.oomScoreAdj: 9999999999999999999 is out of range -1000..1000");
	parse_fails("{" V ", 'process': {'oomScoreAdj': -18446744073709551615}}",
		    "config.json: line 1 column 72: too big negative integer");
	parse_fails("{" V ", 'process': {'oomScoreAdj': 1e18446744073709551615}}",
		    "config.json: line 1 column 73: real number overflow");
	parse_fails("{" V ", 'process': {'oomScoreAdj': 18446744073709551616}}",
		    "config.json: line 1 column 71: too big integer near '18446744073709551616'");
	/* With a \u0000 anywhere there is no rewrite: the first error stands. */
	parse_fails("{" V ", 'process': {'oomScoreAdj': 9999999999999999999}, 'x': '\\u0000'}",
		    "config.json: line 1 column 70: too big integer near '9999999999999999999'");
	parse_fails("{" V ", 'hostname': '\\u000018446744073709551615'}",
		    "config.json: line 1 column 64: \\u0000 is not allowed without JSON_ALLOW_NUL");
}

static void test_lenient(void)
{
	struct spec *s;

	s = parse_ok("{" V ", 'process': {'args': ['sh'], 'cwd': '/', 'capabilities': null,"
		     " 'user': {'uid': 5}, 'newField': {'a': 1}}, 'root': null, 'linux': {"
		     " 'rootfsPropagation': '', 'intelRdt': {'closID': 'x'}}}",
		     "nulls, unknown keys, empty propagation");
	if (s != NULL) {
		ok(s->root_path == NULL && s->process->caps == NULL && s->process->user.uid == 5 &&
			   s->process->user.gid == 0 && !s->process->terminal,
		   "absent root and null capabilities are NULL; defaults are 0/false");
		ok(!s->linux_->has_rootfs_propagation && s->linux_->resources == NULL && s->linux_->seccomp == NULL,
		   "\"\" propagation is unset; absent objects are NULL");
		ok(spec_namespace(s, CLONE_NEWPID) == NULL, "spec_namespace without namespaces");
		spec_free(s);
	}
	s = parse_ok("{" V "}", "minimal config");
	if (s != NULL) {
		ok(s->process == NULL && s->linux_ == NULL && s->n_mounts == 0, "minimal: no process, no linux");
		spec_free(s);
	}
}

static void test_names(void)
{
	is_int(spec_namespace_type_from_name("pid"), CLONE_NEWPID, "pid -> CLONE_NEWPID");
	is_int(spec_namespace_type_from_name("mount"), CLONE_NEWNS, "mount -> CLONE_NEWNS");
	is_int(spec_namespace_type_from_name("time"), CLONE_NEWTIME, "time -> CLONE_NEWTIME");
	is_int(spec_namespace_type_from_name("net"), -1, "net is not a namespace type name");
	is_str(spec_namespace_type_name(CLONE_NEWNET), "network", "CLONE_NEWNET -> network");
	is_str(spec_namespace_type_name(0), NULL, "0 has no name");
	is_int(spec_rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME, "RLIMIT_RTTIME");
	is_int(spec_rlimit_from_name("RLIMIT_SIGPENDING"), RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING");
	is_int(spec_rlimit_from_name("NOFILE"), -1, "rlimit names need the prefix");
}

static void test_process_file(void)
{
	struct ocr_error err = {0};
	struct spec_process *p = NULL;
	void *arena = NULL;
	const char *doc = json("{'args': ['ls', '-l'], 'cwd': '/tmp', 'env': ['A=b'],"
			       " 'user': {'uid': 7}}");

	ok(spec_parse_process(doc, strlen(doc), "process.json", &p, &arena, &err) == 0 && p->n_args == 2 &&
		   strcmp(p->args[1], "-l") == 0 && p->user.uid == 7 && strcmp(p->cwd, "/tmp") == 0,
	   "spec_parse_process reads a process object");
	spec_arena_free(arena);
	doc = json("{'args': ['ls', 1], 'cwd': '/'}");
	ok(spec_parse_process(doc, strlen(doc), "process.json", &p, &arena, &err) < 0, "bad process.json");
	is_str(err.msg, "process.json: args[1]: expected a string", "process.json error path");
}

static void write_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || close(fd) < 0) {
		perror(name);
		exit(2);
	}
}

static void test_load(void)
{
	char dir[] = "/tmp/test-spec-XXXXXX";
	struct ocr_error err = {0};
	struct spec *s = NULL;
	char *missing, *expected;
	int dirfd, fd;

	if (mkdtemp(dir) == NULL || (dirfd = open(dir, O_PATH | O_DIRECTORY)) < 0) {
		ok(false, "temporary bundle: %s", strerror(errno));
		return;
	}
	missing = xasprintf("%s/none", dir);
	ok(spec_load(missing, &s, &err) < 0 && err.err == ENOENT, "missing bundle");
	ok(spec_load(dir, &s, &err) < 0 && err.err == ENOENT, "bundle without config.json");
	expected = xasprintf("bundle `%s`: open `config.json`", dir);
	is_str(err.msg, expected, "open error names the file");
	free(expected);

	write_file(dirfd, "config.json", json("{" V ", 'root': {'path': 'rootfs'}}"));
	ok(spec_load(dir, &s, &err) == 0 && strcmp(s->root_path, "rootfs") == 0, "spec_load reads it");
	spec_free(s);

	write_file(dirfd, "config.json", json("{'ociVersion': 1}"));
	ok(spec_load(dir, &s, &err) < 0, "spec_load: parse error");
	is_str(err.msg, "config.json: ociVersion: expected a string", "spec_load: origin config.json");
	is_int(err.err, EINVAL, "parse errors are EINVAL");

	/* Sparse: reading stops after 16 MiB + 1 byte, which is quick. */
	fd = openat(dirfd, "config.json", O_WRONLY | O_TRUNC | O_CLOEXEC);
	ok(fd >= 0 && ftruncate(fd, SPEC_MAX_FILE_SIZE + 1) == 0 && close(fd) == 0, "oversized file");
	ok(spec_load(dir, &s, &err) < 0, "spec_load refuses a file over the limit");
	is_str(err.msg, "config.json: file is larger than 16 MiB", "size limit message");
	is_int(err.err, EFBIG, "size limit: EFBIG");

	unlinkat(dirfd, "config.json", 0);
	close(dirfd);
	rmdir(dir);
	free(missing);
}

static void test_array_limit(void)
{
	/* 100001 entries: one over the limit. */
	size_t n = 100001, i;
	char *doc = xmalloc(64 + n * 4), *p = doc;
	struct ocr_error err = {0};
	struct spec *s = NULL;

	p += sprintf(p, "{\"ociVersion\": \"1\", \"linux\": {\"maskedPaths\": [");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"/\"", i ? "," : "");
	p += sprintf(p, "]}}");
	ok(spec_parse(doc, (size_t)(p - doc), "config.json", &s, &err) < 0, "too many entries");
	is_str(err.msg, "config.json: linux.maskedPaths: more than 100000 entries", "array limit message");
	/* One entry less is accepted (and takes the arena's large-block path). */
	memcpy(strchr(doc, '[') + 1, "    ", 4); /* "/", -> blanks */
	ok(spec_parse(doc, (size_t)(p - doc), "config.json", &s, &err) == 0 && s->linux_->n_masked_paths == 100000 &&
		   s->linux_->masked_paths[99999][0] == '/',
	   "100000 entries are accepted");
	spec_free(s);
	free(doc);

	/* The kernel takes at most 340 id-map lines. */
	doc = xmalloc(64 + 341 * 48);
	p = doc + sprintf(doc, "{\"ociVersion\": \"1\", \"linux\": {\"uidMappings\": [");
	for (i = 0; i < 341; i++)
		p += sprintf(p, "%s{\"containerID\": %zu, \"hostID\": %zu, \"size\": 1}", i ? "," : "", i, i);
	p += sprintf(p, "]}}");
	ok(spec_parse(doc, (size_t)(p - doc), "config.json", &s, &err) < 0, "341 uidMappings");
	is_str(err.msg, "config.json: linux.uidMappings: more than 340 entries", "id-map limit");
	free(doc);
}

int main(void)
{
	test_full();
	test_default();
	test_errors_top();
	test_errors_process();
	test_errors_linux();
	test_errors_resources();
	test_errors_seccomp();
	test_syntax();
	test_lenient();
	test_names();
	test_process_file();
	test_load();
	test_array_limit();
	return done_testing();
}
