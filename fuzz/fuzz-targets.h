/* The fuzz entry points, shared by the libFuzzer targets (fuzz/fuzz-*.c,
 * built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined) and
 * by tests/unit/test-fuzz-regressions.c, which replays every committed
 * input (fuzz/regressions/ and fuzz/corpus/) through the same functions
 * under the normal build.
 *
 * Each entry takes untrusted bytes, runs them through the parser exactly as
 * the runtime does, frees everything, and checks the invariants the rest of
 * the runtime relies on; a broken invariant is an abort(), which both
 * libFuzzer and the replay test report as a crash. */
#ifndef OCR_FUZZ_TARGETS_H
#define OCR_FUZZ_TARGETS_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idmap.h"
#include "mount.h"
#include "signals.h"
#include "spec.h"
#include "state.h"
#include "utils.h"

#define FUZZ_UNUSED __attribute__((unused))

/* A broken invariant: say which, then crash so the input is kept. */
#define FUZZ_CHECK(cond)                                                                                    \
	do {                                                                                                \
		if (!(cond)) {                                                                              \
			fprintf(stderr, "fuzz: invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort();                                                                            \
		}                                                                                           \
	} while (0)

/* An error message must be one non-empty line without terminal controls
 * (it quotes untrusted input). */
FUZZ_UNUSED static void fuzz_check_error(const struct ocr_error *err)
{
	size_t len = strnlen(err->msg, sizeof(err->msg));

	FUZZ_CHECK(len > 0 && len < sizeof(err->msg));
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)err->msg[i];

		FUZZ_CHECK(ch >= 0x20 && ch != 0x7f);
		/* no C1 control (U+0080..U+009F) */
		FUZZ_CHECK(!(ch == 0xc2 && i + 1 < len && (unsigned char)err->msg[i + 1] < 0xa0));
	}
}

/* ---- scratch directory (state.json, subuid files) ----------------------- */

static char fuzz_tmp_path[256];
static int fuzz_tmp_fd = -1;
static pid_t fuzz_tmp_owner;

/* Only in the process that made it: a forked replay child exits too. */
FUZZ_UNUSED static void fuzz_tmp_cleanup(void)
{
	char path[300];

	if (fuzz_tmp_path[0] == '\0' || getpid() != fuzz_tmp_owner)
		return;
	snprintf(path, sizeof(path), "%s/%s", fuzz_tmp_path, OCR_STATE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/subid", fuzz_tmp_path);
	unlink(path);
	rmdir(fuzz_tmp_path);
}

/* A private directory, made on first use and removed at exit. */
FUZZ_UNUSED static int fuzz_tmp_dir(void)
{
	const char *base = getenv("TMPDIR");

	if (fuzz_tmp_fd >= 0)
		return fuzz_tmp_fd;
	snprintf(fuzz_tmp_path, sizeof(fuzz_tmp_path), "%s/ocirt-fuzz.XXXXXX",
		 base != NULL && base[0] == '/' ? base : "/tmp");
	if (mkdtemp(fuzz_tmp_path) == NULL) {
		perror("fuzz: mkdtemp");
		abort();
	}
	fuzz_tmp_fd = open(fuzz_tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fuzz_tmp_fd < 0) {
		perror("fuzz: open scratch directory");
		abort();
	}
	fuzz_tmp_owner = getpid();
	atexit(fuzz_tmp_cleanup);
	return fuzz_tmp_fd;
}

/* Replace NAME in the scratch directory with DATA. */
FUZZ_UNUSED static void fuzz_tmp_write(const char *name, const uint8_t *data, size_t size)
{
	int fd = openat(fuzz_tmp_dir(), name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (size > 0 && write_all(fd, data, size) < 0) || close(fd) < 0) {
		perror("fuzz: write scratch file");
		abort();
	}
}

/* ---- config.json: spec_parse and what the runtime does with a spec ------ */

FUZZ_UNUSED static void fuzz_check_process(const struct spec_process *p)
{
	FUZZ_CHECK(p->n_args >= 1 && p->args != NULL && p->args[p->n_args] == NULL);
	for (size_t i = 0; i < p->n_args; i++)
		FUZZ_CHECK(p->args[i] != NULL);
	FUZZ_CHECK(p->cwd != NULL && p->cwd[0] == '/');
	FUZZ_CHECK(p->n_env == 0 || p->env[p->n_env] == NULL);
	for (size_t i = 0; i < p->n_env; i++)
		FUZZ_CHECK(strchr(p->env[i], '=') != NULL);
	for (size_t i = 0; i < p->n_rlimits; i++) {
		FUZZ_CHECK(p->rlimits[i].soft <= p->rlimits[i].hard);
		FUZZ_CHECK(spec_rlimit_from_name(p->rlimits[i].name) == p->rlimits[i].resource);
	}
}

/* Options of every mount, parsed as rootfs.c does before mounting. */
FUZZ_UNUSED static void fuzz_check_mounts(const struct spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		struct ocr_error err = {0};
		struct mount_opts mo;

		FUZZ_CHECK(m->destination != NULL && m->destination[0] == '/');
		if (mount_parse_options(m->options, m->n_options, &mo, &err) < 0)
			fuzz_check_error(&err);
		else
			FUZZ_CHECK((mo.flags & mo.clear) == 0);
		mount_opts_clear(&mo);
	}
}

FUZZ_UNUSED static int fuzz_spec(const uint8_t *data, size_t size)
{
	struct ocr_error err = {0};
	struct spec *s = NULL;

	if (size > SPEC_MAX_FILE_SIZE)
		return 0;
	if (spec_parse((const char *)data, size, "config.json", &s, &err) < 0) {
		fuzz_check_error(&err);
		return -1;
	}
	FUZZ_CHECK(s != NULL && s->oci_version != NULL);
	if (s->process != NULL)
		fuzz_check_process(s->process);
	fuzz_check_mounts(s);
	for (int k = 0; k < SPEC_HOOK_KIND_COUNT; k++)
		for (size_t i = 0; i < s->hooks.n_hooks[k]; i++)
			FUZZ_CHECK(s->hooks.hooks[k][i].path[0] == '/');
	if (s->linux_ != NULL) {
		const struct spec_linux *l = s->linux_;

		FUZZ_CHECK(l->n_uid_mappings <= IDMAP_MAX_LINES && l->n_gid_mappings <= IDMAP_MAX_LINES);
		FUZZ_CHECK(l->n_time_offsets <= 2);
		for (size_t i = 0; i < l->n_namespaces; i++) {
			FUZZ_CHECK(spec_namespace_type_name(l->namespaces[i].type) != NULL);
			FUZZ_CHECK(spec_namespace(s, l->namespaces[i].type) == &l->namespaces[i]);
		}
		for (size_t i = 0; i < l->n_masked_paths; i++)
			FUZZ_CHECK(l->masked_paths[i][0] == '/');
		for (size_t i = 0; i < l->n_readonly_paths; i++)
			FUZZ_CHECK(l->readonly_paths[i][0] == '/');
	}
	for (size_t i = 0; i < s->n_annotations; i++)
		FUZZ_CHECK(spec_annotation(s, s->annotations[i].key) != NULL);
	spec_free(s);
	return 0;
}

/* exec --process FILE */
FUZZ_UNUSED static int fuzz_process(const uint8_t *data, size_t size)
{
	struct ocr_error err = {0};
	struct spec_process *p = NULL;
	void *arena = NULL;

	if (size > SPEC_MAX_FILE_SIZE)
		return 0;
	if (spec_parse_process((const char *)data, size, "process.json", &p, &arena, &err) < 0) {
		fuzz_check_error(&err);
		return -1;
	}
	fuzz_check_process(p);
	spec_arena_free(arena);
	return 0;
}

/* ---- state.json: what list, state, start, kill and delete read ---------- */

FUZZ_UNUSED static int fuzz_state(const uint8_t *data, size_t size)
{
	static const char *const ids[] = {"c1", "x"};
	struct ocr_error err = {0};
	struct ocr_state st;
	int rc = -1;

	fuzz_tmp_write(OCR_STATE_FILE, data, size);
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		memset(&err, 0, sizeof(err));
		if (state_read(fuzz_tmp_dir(), ids[i], &st, &err) < 0) {
			fuzz_check_error(&err);
			continue;
		}
		rc = 0;
		FUZZ_CHECK(st.id != NULL && strcmp(st.id, ids[i]) == 0);
		FUZZ_CHECK(st.bundle != NULL && st.rootfs != NULL && st.created != NULL);
		FUZZ_CHECK(st.pid >= 0);
		FUZZ_CHECK(st.annotations != NULL && st.extra != NULL);
		/* `state` and `list` print this for any record that loads. */
		{
			enum ocr_status status = state_status(&st);
			char *json = state_oci_json(&st, status, true);

			FUZZ_CHECK(json != NULL);
			free(json);
			json = state_oci_json(&st, OCR_STATUS_CREATED, false);
			FUZZ_CHECK(json != NULL);
			free(json);
		}
		state_clear(&st);
	}
	return rc;
}

/* ---- /etc/subuid and /etc/subgid --------------------------------------- */

FUZZ_UNUSED static int fuzz_idmap(const uint8_t *data, size_t size)
{
	static const struct {
		const char *user;
		uid_t uid;
	} who[] = {{"ocirt-test", 1001}, {NULL, 0}, {"root", 100000}};
	struct idmap_range r[IDMAP_MAX_LINES];
	char path[300];

	fuzz_tmp_write("subid", data, size);
	fuzz_tmp_dir();
	snprintf(path, sizeof(path), "%s/subid", fuzz_tmp_path);
	for (size_t w = 0; w < ARRAY_SIZE(who); w++) {
		static const size_t maxes[] = {IDMAP_MAX_LINES, 1, 0};

		for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
			struct ocr_error err = {0};
			size_t n = 12345;

			if (idmap_read_subids(path, who[w].user, who[w].uid, r, maxes[m], &n, &err) < 0) {
				fuzz_check_error(&err);
				continue;
			}
			FUZZ_CHECK(n <= maxes[m]);
			for (size_t i = 0; i < n; i++) {
				FUZZ_CHECK(r[i].count > 0);
				FUZZ_CHECK((uint64_t)r[i].start + r[i].count <= UINT32_MAX);
			}
		}
	}
	return 0;
}

/* ---- mounts[].options ------------------------------------------------- */

/* The input is the option list, NUL-separated (as many as it has). */
FUZZ_UNUSED static int fuzz_mountopts(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1);
	char **opts = xcalloc(size + 2, sizeof(char *));
	struct ocr_error err = {0};
	struct mount_opts mo;
	size_t n = 0, start = 0;
	int rc = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size; i++) {
		if (buf[i] == '\0') {
			opts[n++] = buf + start;
			start = i + 1;
		}
	}
	if (mount_parse_options(opts, n, &mo, &err) < 0) {
		fuzz_check_error(&err);
		rc = -1;
	} else {
		FUZZ_CHECK((mo.flags & mo.clear) == 0);
		FUZZ_CHECK(!mo.recursive || mo.bind);
		if (mo.data != NULL) {
			/* Only what the runtime does not know goes to the kernel. */
			for (size_t i = 0; mount_option_name(i) != NULL; i++)
				FUZZ_CHECK(strcmp(mo.data, mount_option_name(i)) != 0);
		}
	}
	mount_opts_clear(&mo);
	free(opts);
	free(buf);
	return rc;
}

/* ---- kill SIGNAL ---------------------------------------------------------- */

FUZZ_UNUSED static int fuzz_signal(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	int sig;

	memcpy(s, data, size);
	s[size] = '\0';
	sig = signal_parse(s);
	FUZZ_CHECK(sig == -1 || (sig >= 1 && sig <= SIGRTMAX));
	if (sig > 0) {
		const char *name = signal_name(sig);
		char num[16];

		if (name != NULL)
			FUZZ_CHECK(signal_parse(name) == sig);
		snprintf(num, sizeof(num), "%d", sig);
		FUZZ_CHECK(signal_parse(num) == sig);
	}
	free(s);
	return sig > 0 ? 0 : -1;
}

#endif
