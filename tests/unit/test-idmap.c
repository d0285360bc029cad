/* Id-mapping policy: subuid parsing, range coverage and overlap, the
 * default map, helper lookup and privilege check, the ids a config uses
 * (idmap_check_spec), config map shapes, and the userns failure text. TAP. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"
#include "spec.h"
#include "subid.h"
#include "tap.h"
#include "utils.h"

static char tmpdir[64];

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	chmod(path, mode);
}

static void test_parse(void)
{
	static const char text[] = "# comment\n"
				   "alice:100000:65536\n"
				   "bob:200000:65536\n"
				   "\n"
				   "1001:300000:10\n"
				   "alice:400000:5\n"
				   "alice:x:5\n"
				   "alice:500000:\n"
				   "alice:500000:0\n"
				   "alice:-1:5\n"
				   "alice: 600000:5\n"
				   "alice:4294967290:10\n"
				   "alice:99999999999:1\n"
				   "alice:700000:5:extra\n"
				   ":800000:5\n"
				   "alicex:900000:5\n"
				   "alice:1000000:7";
	struct idmap_range r[8];
	size_t n;

	n = subid_parse(text, "alice", 1001, r, 8);
	is_int((long long)n, 4, "alice (uid 1001): name and numeric uid lines, malformed lines skipped");
	ok(n == 4 && r[0].start == 100000 && r[0].count == 65536, "first range 100000:65536");
	ok(n == 4 && r[1].start == 300000 && r[1].count == 10, "numeric owner 1001 matches the uid");
	ok(n == 4 && r[2].start == 400000 && r[2].count == 5, "a second line of the same user");
	ok(n == 4 && r[3].start == 1000000 && r[3].count == 7, "last line without a newline");
	n = subid_parse(text, "alice", 1001, r, 2);
	is_int((long long)n, 2, "at most MAX ranges are kept");
	n = subid_parse(text, "bob", 2000, r, 8);
	ok(n == 1 && r[0].start == 200000, "bob has his one range");
	n = subid_parse(text, "carol", 3000, r, 8);
	is_int((long long)n, 0, "a user without lines has no ranges");
	n = subid_parse(text, NULL, 1001, r, 8);
	is_int((long long)n, 1, "without a user name only the numeric uid matches");
	n = subid_parse("alice:4294967294:1\nalice:4294967295:1\n", "alice", 1, r, 8);
	ok(n == 1 && r[0].start == 4294967294u, "id 4294967294 is fine, 4294967295 is never mapped");
	n = subid_parse("alice:100000:65536\r\n", "alice", 1, r, 8);
	is_int((long long)n, 0, "a CRLF line is malformed (as shadow reads it)");
}

static void test_read_file(void)
{
	char path[128];
	struct idmap_range r[4];
	struct ocr_error err = {0};
	size_t n = 99;

	snprintf(path, sizeof(path), "%s/subuid", tmpdir);
	write_text(path, "me:100000:65536\nother:165536:65536\n", 0644);
	ok(subid_read_file(path, "me", 4242, r, 4, &n, &err) == 0 && n == 1 && r[0].start == 100000,
	   "subid_read_file reads the caller's range");
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	n = 99;
	ok(subid_read_file(path, "me", 4242, r, 4, &n, &err) == 0 && n == 0,
	   "a missing file is no ranges, not an error");
	ok(subid_read_file(tmpdir, "me", 4242, r, 4, &n, &err) < 0, "a directory is an error");
}

static void test_libsubid(void)
{
	struct subid_ranges *lib = xcalloc(1, sizeof(*lib)), *files = xcalloc(1, sizeof(*files));
	struct ocr_error err = {0};
	struct passwd *pw = getpwuid(getuid());

	ok(subid_nss_configured("passwd: files\n  subid:   sss\n"), "nsswitch `subid:` line found (indented)");
	ok(!subid_nss_configured("passwd: files\n#subid: sss\nsubidx: y\n"), "comments and other keys are not it");
	ok(!subid_nss_configured(""), "empty nsswitch.conf: no subid source");
	/* Where libsubid is installed and reads the files, it must agree. */
	if (pw == NULL || subid_from_libsubid(SUBID_UID, pw->pw_name, lib) != 1) {
		ok(true, "# SKIP libsubid.so.4 not installed or no ranges for this user");
	} else {
		subid_read_file("/etc/subuid", pw->pw_name, getuid(), files->r, SUBID_MAX_RANGES, &files->n, &err);
		ok(lib->n == files->n && memcmp(lib->r, files->r, lib->n * sizeof(lib->r[0])) == 0 &&
			   strcmp(lib->where, "libsubid") == 0,
		   "libsubid and /etc/subuid give the same %zu ranges", lib->n);
	}
	free(lib);
	free(files);
}

static void test_covers(void)
{
	struct idmap_range r[] = {{100000, 65536}, {165536, 100}, {300000, 10}};

	ok(subid_covers(r, 3, 100000, 65536), "a whole range is covered");
	ok(subid_covers(r, 3, 100010, 5), "a part of a range is covered");
	ok(subid_covers(r, 3, 165000, 600), "adjacent ranges combine (as shadow's have_sub_uids)");
	ok(!subid_covers(r, 3, 165000, 700), "past the end of adjacent ranges is not covered");
	ok(!subid_covers(r, 3, 299999, 2), "starting before a range is not covered");
	ok(!subid_covers(r, 3, 300005, 10), "running past a range is not covered");
	ok(!subid_covers(r, 3, 200000, 1), "a gap is not covered");
	ok(!subid_covers(r, 3, 100000, 0), "an empty range is not covered");
	ok(!subid_covers(NULL, 0, 1, 1), "no ranges cover nothing");
	ok(!subid_covers(r, 3, 4294967295ull, 2), "ids past 2^32 are not covered");
	ok(subid_overlap(0, 10, 9, 1), "overlap: last id of one is the first of the other");
	ok(!subid_overlap(0, 10, 10, 5), "no overlap: touching ranges");
	ok(!subid_overlap(0, 0, 0, 5), "no overlap: empty range");
	ok(subid_overlap(5, 1, 0, 100), "overlap: one inside the other");
}

static void test_format_suggest(void)
{
	struct idmap_range r[] = {{100000, 65536}, {300000, 1}};
	char buf[64], small[12];

	subid_format(r, 2, buf, sizeof(buf));
	is_str(buf, "100000-165535, 300000-300000", "subid_format lists first-last");
	subid_format(r, 2, small, sizeof(small));
	is_str(small, "100000-1...", "subid_format truncates with ...");
	is_int(subid_suggest_start(""), 100000, "an empty subuid file suggests 100000");
	is_int(subid_suggest_start("a:100000:65536\n"), 196608, "after 100000:65536 comes 196608 (a 65536 multiple)");
	is_int(subid_suggest_start("a:100000:65536\nb:junk\nc:1:5\n"), 196608, "malformed and low lines ignored");
}

static void test_default_map(void)
{
	struct spec_idmap m[IDMAP_MAX_LINES];
	struct idmap_range inside[] = {{1000, 10}};
	struct idmap_range dup[] = {{100000, 65536}, {100000, 65536}, {200000, 5}};
	size_t n;

	n = idmap_default_map(m, 1001, NULL, 0);
	ok(n == 1 && m[0].container_id == 0 && m[0].host_id == 1001 && m[0].size == 1, "single id: own -> 0");
	n = idmap_default_map(m, 1001, dup, 3);
	ok(n == 3 && m[1].container_id == 1 && m[1].host_id == 100000 && m[1].size == 65536 &&
		   m[2].container_id == 65537 && m[2].host_id == 200000 && m[2].size == 5,
	   "ranges from container id 1 on, a duplicate line skipped");
	n = idmap_default_map(m, 1003, inside, 1);
	ok(n == 3 && m[1].host_id == 1000 && m[1].size == 3 && m[2].host_id == 1004 && m[2].size == 6 &&
		   m[2].container_id == 4,
	   "the own id is cut out of a range holding it");
	is_int(idmap_to_host(m, n, 0), 1003, "container 0 is the caller");
	is_int(idmap_to_host(m, n, 3), 1002, "container 3 is host 1002");
	is_int(idmap_to_host(m, n, 4), 1004, "container 4 is host 1004");
	is_int(idmap_to_host(m, n, 10), -1, "container 10 is unmapped");
}

static void test_find_program(void)
{
	char a[128], b[128], path_env[512], buf[PATH_MAX];

	snprintf(a, sizeof(a), "%s/a", tmpdir);
	snprintf(b, sizeof(b), "%s/b", tmpdir);
	mkdir(a, 0755);
	mkdir(b, 0755);
	snprintf(buf, sizeof(buf), "%s/ocr-test-prog", a);
	write_text(buf, "#!/bin/sh\n", 0644); /* not executable: skipped */
	snprintf(buf, sizeof(buf), "%s/ocr-test-prog", b);
	write_text(buf, "#!/bin/sh\n", 0755);
	snprintf(buf, sizeof(buf), "%s/ocr-test-dir", a);
	mkdir(buf, 0755); /* a directory: skipped */
	snprintf(path_env, sizeof(path_env), "relative:%s::%s", a, b);
	ok(find_program("ocr-test-prog", path_env, buf, sizeof(buf)) && strstr(buf, "/b/ocr-test-prog"),
	   "PATH is searched in order, skipping a non-executable file");
	ok(!find_program("ocr-test-dir", path_env, buf, sizeof(buf)) && buf[0] == '\0', "a directory is not a program");
	ok(find_program("sh", "", buf, sizeof(buf)), "standard dirs when PATH is empty (found %s)", buf);
	ok(find_program("sh", NULL, buf, sizeof(buf)), "standard dirs when PATH is unset (found %s)", buf);
	ok(!find_program("sh", path_env, buf, sizeof(buf)), "no standard dirs after a set PATH");
	ok(!find_program("ocr-no-such-program", path_env, buf, sizeof(buf)), "absent program not found");
}

static void test_helper_usable(void)
{
	struct idmap_helper h = {0};
	char why[768], path[128];

	ok(!idmap_helper_usable(&h, SUBID_UID, why, sizeof(why)) && strstr(why, "apt install uidmap"),
	   "no helper: the install command");
	snprintf(path, sizeof(path), "%s/b/ocr-test-prog", tmpdir);
	snprintf(h.path, sizeof(h.path), "%s", path);
	ok(!idmap_helper_usable(&h, SUBID_UID, why, sizeof(why)) && strstr(why, "setcap cap_setuid+ep") &&
		   strstr(why, path),
	   "plain file: the setcap command naming it");
	h.shim = true;
	ok(!idmap_helper_usable(&h, SUBID_GID, why, sizeof(why)) && strstr(why, "setcap cap_setuid,cap_setgid+ep"),
	   "plain shim: setcap with both capabilities");
	snprintf(h.path, sizeof(h.path), "/usr/bin/newuidmap");
	h.shim = false;
	if (access(h.path, X_OK) == 0) {
		struct stat st;
		bool suid = stat(h.path, &st) == 0 && st.st_uid == 0 && (st.st_mode & S_ISUID);
		ok(!suid || idmap_helper_usable(&h, SUBID_UID, why, sizeof(why)),
		   "setuid /usr/bin/newuidmap is usable");
	} else {
		ok(true, "# SKIP /usr/bin/newuidmap is not installed");
	}
}

static struct spec *parse(const char *json)
{
	struct ocr_error err = {0};
	struct spec *spec = NULL;

	if (spec_parse(json, strlen(json), "config.json", &spec, &err) < 0)
		printf("# parse: %s\n", err.msg);
	return spec;
}

#define PROCESS(user) "\"process\": {\"args\": [\"true\"], \"cwd\": \"/\", \"user\": " user "}"

static void check_spec_case(const struct idmap_plan *plan, const char *json, const char *want, const char *what)
{
	struct spec *spec = parse(json);
	struct ocr_error err = {0};
	int rc = spec ? idmap_check_spec(plan, spec, &err) : -2;

	if (want == NULL)
		ok(rc == 0, "%s", what);
	else if (!ok(rc < 0 && strstr(err.msg, want) != NULL, "%s", what))
		diag("message: %s", err.msg);
	if (spec)
		spec_free(spec);
}

static void test_check_spec(void)
{
	struct idmap_plan *plan = xcalloc(1, sizeof(*plan));

	plan->new_userns = true;
	plan->n_uid = idmap_default_map(plan->uid, 1001, (struct idmap_range[]){{100000, 65536}}, 1);
	plan->n_gid = idmap_default_map(plan->gid, 1001, (struct idmap_range[]){{100000, 65536}}, 1);
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 1000, \"gid\": 1000}") "}", NULL,
			"uid/gid 1000 inside the default map pass");
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 70000, \"gid\": 0}") "}",
			"process.user.uid 70000 is not mapped", "process.user.uid outside: named with its id");
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 70000, \"gid\": 0}") "}",
			"mapped container uids: 0, 1-65536", "the message says what is mapped");
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 0, \"gid\": 65537}") "}",
			"process.user.gid 65537", "process.user.gid just past the map");
	check_spec_case(
		plan,
		"{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 0, \"gid\": 0, \"additionalGids\": [5, 99999]}") "}",
		"process.user.additionalGids[1] 99999", "additionalGids: the index and the id");
	check_spec_case(plan,
			"{\"ociVersion\": \"1.0.2\", " PROCESS(
				"{\"uid\": 0, \"gid\": 0}") ", \"mounts\": [{\"destination\": "
							    "\"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", "
							    "\"options\": [\"mode=755\", \"uid=80000\"]}]}",
			"mounts[0] (`/tmp`) option uid= 80000", "a tmpfs uid= option outside the map");
	check_spec_case(plan,
			"{\"ociVersion\": \"1.0.2\", " PROCESS(
				"{\"uid\": 0, \"gid\": 0}") ", \"mounts\": [{\"destination\": "
							    "\"/dev/pts\", \"type\": \"devpts\", \"source\": "
							    "\"devpts\", \"options\": [\"gid=90000\"]}]}",
			NULL, "devpts gid= is left to the mount code");
	check_spec_case(plan,
			"{\"ociVersion\": \"1.0.2\", " PROCESS(
				"{\"uid\": 0, \"gid\": 0}") ", \"linux\": {\"devices\": "
							    "[{\"path\": \"/dev/x\", \"type\": \"c\", \"major\": 1, "
							    "\"minor\": 3, \"gid\": 70000}]}}",
			"linux.devices[0] (`/dev/x`) gid 70000", "a device gid outside the map");
	plan->single_id = true;
	snprintf(plan->single_id_why, sizeof(plan->single_id_why), "WHY");
	plan->n_uid = idmap_default_map(plan->uid, 1001, NULL, 0);
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 1000, \"gid\": 0}") "}",
			"only your own uid is mapped (to 0) because WHY", "single-id map: the message says why");
	plan->new_userns = false;
	check_spec_case(plan, "{\"ociVersion\": \"1.0.2\", " PROCESS("{\"uid\": 1000, \"gid\": 0}") "}", NULL,
			"no new user namespace: nothing to check");
	free(plan);
}

static void plan_case(const char *maps, const char *want, const char *what)
{
	char json[1024];
	struct ocr_ctx ctx = {.euid = getuid(), .egid = getgid(), .initial_userns = true};
	struct idmap_plan *plan = xcalloc(1, sizeof(*plan));
	struct ocr_error err = {0};
	struct spec *spec;
	int rc;

	ocr_log_init(&ctx.log);
	snprintf(json, sizeof(json),
		 "{\"ociVersion\": \"1.0.2\", \"linux\": {\"namespaces\": [{\"type\": \"user\"}], %s}}", maps);
	spec = parse(json);
	rc = spec ? idmap_plan_build(&ctx, spec, plan, &err) : -2;
	if (want == NULL)
		ok(rc == 0, "%s", what);
	else if (!ok(rc < 0 && strstr(err.msg, want) != NULL, "%s", what))
		diag("message: %s", err.msg);
	if (spec)
		spec_free(spec);
	free(plan);
}

static void test_config_maps(void)
{
	char maps[512];
	unsigned uid = getuid(), gid = getgid();

	if (uid == 0) {
		ok(true, "# SKIP config map checks are for an unprivileged caller");
		return;
	}
	snprintf(maps, sizeof(maps),
		 "\"uidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}], "
		 "\"gidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}]",
		 uid, gid);
	plan_case(maps, NULL, "own id only: no helper needed");
	snprintf(maps, sizeof(maps),
		 "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 4000000000, \"size\": 10}, "
		 "{\"containerID\": 5, \"hostID\": 4000000100, \"size\": 10}], "
		 "\"gidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}]",
		 gid);
	plan_case(maps, "uidMappings[0] and linux.uidMappings[1] overlap in the container", "container-side overlap");
	snprintf(maps, sizeof(maps),
		 "\"uidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}], "
		 "\"gidMappings\": [{\"containerID\": 0, \"hostID\": 4000000000, \"size\": 10}, "
		 "{\"containerID\": 10, \"hostID\": 4000000005, \"size\": 10}]",
		 uid);
	plan_case(maps, "overlap on the host", "host-side overlap");
	snprintf(maps, sizeof(maps),
		 "\"uidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}, "
		 "{\"containerID\": 1, \"hostID\": 4000000000, \"size\": 10}], "
		 "\"gidMappings\": [{\"containerID\": 0, \"hostID\": %u, \"size\": 1}]",
		 uid, gid);
	plan_case(maps, "4000000000:10` to /etc/subuid", "host ids not ours: the /etc/subuid line to add");
	plan_case("\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 1}]", "gidMappings is empty",
		  "uidMappings without gidMappings");
}

static void test_explain(void)
{
	char buf[512];

	idmap_explain_userns_failure(ENOSPC, buf, sizeof(buf));
	ok(strstr(buf, "user.max_user_namespaces") != NULL, "ENOSPC names user.max_user_namespaces: %s", buf);
	idmap_explain_userns_failure(EPERM, buf, sizeof(buf));
	ok(buf[0] != '\0' && (strstr(buf, "sysctl") || strstr(buf, "seccomp") || strstr(buf, "chroot")),
	   "EPERM names a knob or the cause: %s", buf);
	idmap_explain_userns_failure(EINVAL, buf, sizeof(buf));
	ok(buf[0] != '\0', "any errno gets a message");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-idmap-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_parse();
	test_read_file();
	test_libsubid();
	test_covers();
	test_format_suggest();
	test_default_map();
	test_find_program();
	test_helper_usable();
	test_check_spec();
	test_config_maps();
	test_explain();
	{
		struct ocr_error err;
		rm_rf_at(AT_FDCWD, tmpdir, &err);
	}
	return done_testing();
}
