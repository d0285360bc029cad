#include "rtfeatures.h"

#include <jansson.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/capability.h>

#include "mount.h"
#include "state.h"
#include "utils.h"

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *capabilities(void)
{
	json_t *a = json_array();

	/* CAP_LAST_CAP of the headers this was built with: fixed at build. */
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		char *name = cap_to_name((cap_value_t)c);
		if (name == NULL)
			continue;
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		json_array_append_new(a, json_string(name));
		cap_free(name);
	}
	return a;
}

static json_t *seccomp_features(void)
{
	static const char *const actions[] = {"SCMP_ACT_ALLOW",	       "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
					      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
					      "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP"};
	static const char *const ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE",	       "SCMP_CMP_GT", "SCMP_CMP_LE",
					  "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"};
	static const char *const archs[] = {"SCMP_ARCH_AARCH64",  "SCMP_ARCH_ARM",	   "SCMP_ARCH_MIPS",
					    "SCMP_ARCH_MIPS64",	  "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",
					    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
					    "SCMP_ARCH_PPC64",	  "SCMP_ARCH_PPC64LE",	   "SCMP_ARCH_RISCV64",
					    "SCMP_ARCH_S390",	  "SCMP_ARCH_S390X",	   "SCMP_ARCH_X32",
					    "SCMP_ARCH_X86",	  "SCMP_ARCH_X86_64"};
	static const char *const flags[] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
					    "SECCOMP_FILTER_FLAG_TSYNC"};
	return json_pack("{s:b,s:o,s:o,s:o,s:o,s:o}", "enabled", 1, "actions", strings(actions, ARRAY_SIZE(actions)),
			 "operators", strings(ops, ARRAY_SIZE(ops)), "archs", strings(archs, ARRAY_SIZE(archs)),
			 "knownFlags", strings(flags, ARRAY_SIZE(flags)), "supportedFlags",
			 strings(flags, ARRAY_SIZE(flags)));
}

char *features_json(void)
{
	static const char *const hooks[] = {"prestart",	      "createRuntime", "createContainer",
					    "startContainer", "poststart",     "poststop"};
	static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
	json_t *mopts = json_array();
	json_t *o;
	char *s;
	char ver[32];

	/* The libseccomp this binary was built against. */
	snprintf(ver, sizeof(ver), "%d.%d.%d", SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
	for (size_t i = 0; mount_option_name(i); i++)
		json_array_append_new(mopts, json_string(mount_option_name(i)));
	o = json_pack("{s:s,s:s,s:o,s:o,s:{s:o,s:o,s:{s:b,s:b,s:b,s:b,s:b},s:o,s:{s:b},s:{s:b},s:{s:b},"
		      "s:{s:{s:b}}},s:{s:s,s:s}}",
		      "ociVersionMin", "1.0.0", "ociVersionMax", OCR_OCI_VERSION, "hooks",
		      strings(hooks, ARRAY_SIZE(hooks)), "mountOptions", mopts, "linux", "namespaces",
		      strings(namespaces, ARRAY_SIZE(namespaces)), "capabilities", capabilities(), "cgroup", "v1", 0,
		      "v2", 1, "systemd", 1, "systemdUser", 1, "rdma", 0, "seccomp", seccomp_features(), "apparmor",
		      "enabled", 1, "selinux", "enabled", 1, "intelRdt", "enabled", 0, "mountExtensions", "idmap",
		      "enabled", 0, "annotations", "io.github.ocirt-rootless.version", OCR_VERSION,
		      "io.github.ocirt-rootless.libseccomp.version", ver);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_INDENT(4));
	json_decref(o);
	return s;
}
