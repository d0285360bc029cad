/* linux.seccomp compiled with libseccomp, following runc's semantics:
 * a rule whose action equals the default action is skipped, syscall names
 * this libseccomp/arch does not know are skipped (debug line), and rules are
 * added with seccomp_rule_add_array() (not _exact) so libseccomp may
 * rewrite them per architecture (socketcall, ipc, ...). */
#include "scmp.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <seccomp.h> /* libseccomp's; ours is "scmp.h" above */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "state.h"
#include "utils.h"

/* libseccomp returns -errno; report it like a failed system call. */
#define fail_rc(err, rc, ...) (errno = -(rc), ocr_fail_errno((err), __VA_ARGS__))

struct ocr_seccomp {
	scmp_filter_ctx ctx;
	bool notify; /* some rule uses SCMP_ACT_NOTIFY */
	char *listener_path; /* copies: the spec may be freed before load */
	char *listener_metadata;
	int listener_fd; /* connected early: the path is a host path */
	pid_t process_pid; /* host pid of the filtered process, 0: the state's */
};

static const char *action_name(enum spec_seccomp_action a)
{
	switch (a) {
	case SPEC_SCMP_KILL:
		return "SCMP_ACT_KILL";
	case SPEC_SCMP_KILL_PROCESS:
		return "SCMP_ACT_KILL_PROCESS";
	case SPEC_SCMP_KILL_THREAD:
		return "SCMP_ACT_KILL_THREAD";
	case SPEC_SCMP_TRAP:
		return "SCMP_ACT_TRAP";
	case SPEC_SCMP_ERRNO:
		return "SCMP_ACT_ERRNO";
	case SPEC_SCMP_TRACE:
		return "SCMP_ACT_TRACE";
	case SPEC_SCMP_ALLOW:
		return "SCMP_ACT_ALLOW";
	case SPEC_SCMP_LOG:
		return "SCMP_ACT_LOG";
	case SPEC_SCMP_NOTIFY:
		return "SCMP_ACT_NOTIFY";
	default:
		return "unknown action";
	}
}

/* Spec action (+ errnoRet) -> libseccomp action. ERRNO and TRACE default to
 * EPERM as in runc; errnoRet with any other action is an error, as the
 * runtime-spec requires. WHAT names the field in messages. */
static int map_action(enum spec_seccomp_action a, const struct opt_u64 *errno_ret, const char *what, uint32_t *ret,
		      struct ocr_error *err)
{
	uint32_t code = EPERM;

	if (errno_ret->set) {
		if (a != SPEC_SCMP_ERRNO && a != SPEC_SCMP_TRACE)
			return ocr_fail(err, EINVAL, "%s: an errno return is not valid with %s", what, action_name(a));
		if (errno_ret->v > 0xffff)
			return ocr_fail(err, ERANGE, "%s: errno return %llu is out of range", what,
					(unsigned long long)errno_ret->v);
		code = (uint32_t)errno_ret->v;
	}
	switch (a) {
	case SPEC_SCMP_KILL:
	case SPEC_SCMP_KILL_THREAD:
		*ret = SCMP_ACT_KILL_THREAD;
		return 0;
	case SPEC_SCMP_KILL_PROCESS:
		*ret = SCMP_ACT_KILL_PROCESS;
		return 0;
	case SPEC_SCMP_TRAP:
		*ret = SCMP_ACT_TRAP;
		return 0;
	case SPEC_SCMP_ERRNO:
		*ret = SCMP_ACT_ERRNO(code);
		return 0;
	case SPEC_SCMP_TRACE:
		*ret = SCMP_ACT_TRACE(code);
		return 0;
	case SPEC_SCMP_ALLOW:
		*ret = SCMP_ACT_ALLOW;
		return 0;
	case SPEC_SCMP_LOG:
		*ret = SCMP_ACT_LOG;
		return 0;
	case SPEC_SCMP_NOTIFY:
		*ret = SCMP_ACT_NOTIFY;
		return 0;
	default:
		return ocr_fail(err, EINVAL, "%s: unknown action %d", what, (int)a);
	}
}

static int map_op(enum spec_seccomp_op op, enum scmp_compare *ret)
{
	switch (op) {
	case SPEC_SCMP_CMP_NE:
		*ret = SCMP_CMP_NE;
		return 0;
	case SPEC_SCMP_CMP_LT:
		*ret = SCMP_CMP_LT;
		return 0;
	case SPEC_SCMP_CMP_LE:
		*ret = SCMP_CMP_LE;
		return 0;
	case SPEC_SCMP_CMP_EQ:
		*ret = SCMP_CMP_EQ;
		return 0;
	case SPEC_SCMP_CMP_GE:
		*ret = SCMP_CMP_GE;
		return 0;
	case SPEC_SCMP_CMP_GT:
		*ret = SCMP_CMP_GT;
		return 0;
	case SPEC_SCMP_CMP_MASKED_EQ:
		*ret = SCMP_CMP_MASKED_EQ;
		return 0;
	default:
		return -1;
	}
}

/* "SCMP_ARCH_X86_64" -> seccomp_arch_resolve_name("x86_64"). */
static int add_arch(scmp_filter_ctx ctx, const char *name, struct ocr_error *err)
{
	const char *prefix = "SCMP_ARCH_";
	char lower[32];
	uint32_t arch = 0;
	size_t len;
	int r;

	if (str_has_prefix(name, prefix) && (len = strlen(name + strlen(prefix))) > 0 && len < sizeof(lower)) {
		for (size_t i = 0; i <= len; i++) {
			char c = name[strlen(prefix) + i];
			lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		arch = seccomp_arch_resolve_name(lower);
	}
	if (arch == 0)
		return ocr_fail(err, EINVAL, "unknown architecture `%s`", name);
	r = seccomp_arch_add(ctx, arch);
	if (r < 0 && r != -EEXIST)
		return fail_rc(err, r, "add architecture `%s`", name);
	return 0;
}

static int set_flag(scmp_filter_ctx ctx, const char *flag, struct ocr_error *err)
{
	enum scmp_filter_attr attr;
	int r;

	if (strcmp(flag, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
		attr = SCMP_FLTATR_CTL_TSYNC;
	else if (strcmp(flag, "SECCOMP_FILTER_FLAG_LOG") == 0)
		attr = SCMP_FLTATR_CTL_LOG;
	else if (strcmp(flag, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
		attr = SCMP_FLTATR_CTL_SSB;
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
	else if (strcmp(flag, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
		attr = SCMP_FLTATR_CTL_WAITKILL;
#else
	else if (strcmp(flag, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0)
		return ocr_fail(err, EOPNOTSUPP, "flag `%s` is not supported by libseccomp %d.%d.%d", flag,
				SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO);
#endif
	else
		return ocr_fail(err, EINVAL, "unknown flag `%s`", flag);
	r = seccomp_attr_set(ctx, attr, 1);
	if (r < 0)
		return fail_rc(err, r, "flag `%s`", flag);
	return 0;
}

/* One linux.seccomp.syscalls[] entry. Arguments follow runc's matchCall():
 * normally all conditions form ONE rule (AND, which is what libseccomp
 * does with several conditions). But when two or more conditions test the
 * SAME argument index, libseccomp would refuse (or AND them into something
 * that never matches), so runc -- and we -- add every condition of the
 * entry as its OWN rule, i.e. the conditions are OR-ed. Profiles rely on
 * this, e.g. Docker's "personality" entries or clone flag masks. */
static int add_syscall_rules(struct ocr_seccomp *s, uint32_t def_act, const struct spec_seccomp_syscall *sc, size_t idx,
			     const struct ocr_log *log, struct ocr_error *err)
{
	struct scmp_arg_cmp conds[6];
	unsigned per_index[6] = {0};
	bool split = false;
	char what[64];
	uint32_t act;

	snprintf(what, sizeof(what), "syscalls[%zu]", idx);
	if (map_action(sc->action, &sc->errno_ret, what, &act, err) < 0)
		return -1;
	if (act == def_act)
		return 0; /* redundant; libseccomp refuses it (runc skips too) */
	if (sc->n_args > ARRAY_SIZE(conds))
		split = true; /* more than 6 implies a repeated index */
	for (size_t i = 0; i < sc->n_args; i++) {
		if (sc->args[i].index >= ARRAY_SIZE(per_index))
			return ocr_fail(err, EINVAL, "%s.args[%zu]: index %u is out of range", what, i,
					sc->args[i].index);
		if (++per_index[sc->args[i].index] > 1)
			split = true;
	}
	for (size_t n = 0; n < sc->n_names; n++) {
		const char *name = sc->names[n];
		int nr = seccomp_syscall_resolve_name(name);
		int r = 0;

		if (sc->action == SPEC_SCMP_NOTIFY && strcmp(name, "sendmsg") == 0)
			/* The listener fd is sent with sendmsg() after the load;
			 * runc refuses "write" for the same reason. */
			return ocr_fail(err, EINVAL, "%s: SCMP_ACT_NOTIFY cannot be used for `sendmsg`", what);
		if (nr == __NR_SCMP_ERROR) {
			ocr_debug(log, "seccomp: unknown syscall `%s` skipped", name);
			continue;
		}
		for (size_t i = 0; i < sc->n_args && r == 0; i++) {
			struct scmp_arg_cmp *c = &conds[split ? 0 : i];
			enum scmp_compare op;

			if (map_op(sc->args[i].op, &op) < 0)
				return ocr_fail(err, EINVAL, "%s.args[%zu]: unknown operator", what, i);
			/* MASKED_EQ: value is the mask, valueTwo the datum, as
			 * runc passes them (datum_a, datum_b) to libseccomp. */
			c->arg = sc->args[i].index;
			c->op = op;
			c->datum_a = sc->args[i].value;
			c->datum_b = sc->args[i].value_two;
			if (split)
				r = seccomp_rule_add_array(s->ctx, act, nr, 1, conds);
		}
		if (!split && r == 0)
			r = seccomp_rule_add_array(s->ctx, act, nr, (unsigned)sc->n_args, sc->n_args ? conds : NULL);
		if (r < 0)
			return fail_rc(err, r, "%s: add rule for syscall `%s`", what, name);
		if (sc->action == SPEC_SCMP_NOTIFY)
			s->notify = true;
	}
	return 0;
}

static int seccomp_build(struct ocr_seccomp *s, const struct spec_seccomp *sc, const struct ocr_log *log,
			 struct ocr_error *err)
{
	uint32_t def_act;
	int r;

	if (map_action(sc->default_action, &sc->default_errno_ret, "defaultAction", &def_act, err) < 0)
		return -1;
	/* runc refuses it too: every syscall after the load, including the
	 * one sending the listener fd, would wait for an agent without it. */
	if (sc->default_action == SPEC_SCMP_NOTIFY)
		return ocr_fail(err, EINVAL, "defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
	s->ctx = seccomp_init(def_act);
	if (s->ctx == NULL)
		return ocr_fail(err, EINVAL, "defaultAction: %s is not supported here (seccomp_init failed)",
				action_name(sc->default_action));
	/* Real errno values from seccomp_load() instead of ECANCELED. */
	(void)seccomp_attr_set(s->ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	/* no_new_privs is set by the runtime per process.noNewPrivileges. */
	r = seccomp_attr_set(s->ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		return fail_rc(err, r, "clear the no_new_privs attribute");
	for (size_t i = 0; i < sc->n_architectures; i++)
		if (add_arch(s->ctx, sc->architectures[i], err) < 0)
			return ocr_wrap(err, "architectures[%zu]", i);
	for (size_t i = 0; i < sc->n_flags; i++)
		if (set_flag(s->ctx, sc->flags[i], err) < 0)
			return ocr_wrap(err, "flags[%zu]", i);
	/* As runc: a binary tree for long profiles (libseccomp <= 2.5.4
	 * misbehaves with it and no rules, hence the threshold). */
	if (sc->n_syscalls > 32 && (r = seccomp_attr_set(s->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
		ocr_debug(log, "seccomp: binary tree optimization unavailable: %s", strerror(-r));
	for (size_t i = 0; i < sc->n_syscalls; i++)
		if (add_syscall_rules(s, def_act, &sc->syscalls[i], i, log, err) < 0)
			return -1;
	if (s->notify && (sc->listener_path == NULL || sc->listener_path[0] == '\0'))
		return ocr_fail(err, EINVAL, "SCMP_ACT_NOTIFY is used but listenerPath is not set");
	return 0;
}

int ocr_seccomp_prepare(const struct spec_seccomp *seccomp, const struct ocr_log *log, struct ocr_seccomp **ret,
			struct ocr_error *err)
{
	struct ocr_seccomp *s = xcalloc(1, sizeof(*s));

	s->listener_fd = -1;

	/* Messages name the field below linux.seccomp ("syscalls[3]: ...");
	 * the caller adds "linux.seccomp". */
	if (seccomp_build(s, seccomp, log, err) < 0) {
		ocr_seccomp_free(s);
		return -1;
	}
	if (s->notify) {
		s->listener_path = xstrdup(seccomp->listener_path);
		s->listener_metadata = xstrdup(seccomp->listener_metadata);
	}
	*ret = s;
	return 0;
}

void ocr_seccomp_set_pid(struct ocr_seccomp *s, pid_t pid)
{
	s->process_pid = pid;
}

void ocr_seccomp_free(struct ocr_seccomp *s)
{
	if (s == NULL)
		return;
	if (s->ctx)
		seccomp_release(s->ctx);
	if (s->listener_fd >= 0)
		close(s->listener_fd);
	free(s->listener_path);
	free(s->listener_metadata);
	free(s);
}

/* The runtime-spec "container process state" sent to the listener:
 * {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}. PID is
 * the container process as the runtime sees it, i.e. state.pid. */
static char *notify_message(const struct ocr_seccomp *s, const char *state_json, struct ocr_error *err)
{
	json_t *state, *msg, *pid;
	json_error_t jerr;
	json_int_t pid_value = (json_int_t)getpid();
	char *out;

	if (state_json == NULL) {
		ocr_fail(err, EINVAL, "no container state for the seccomp listener");
		return NULL;
	}
	state = json_loads(state_json, JSON_REJECT_DUPLICATES, &jerr);
	if (state == NULL || !json_is_object(state)) {
		ocr_fail(err, EINVAL, "container state for the seccomp listener: %s",
			 state ? "not an object" : jerr.text);
		json_decref(state);
		return NULL;
	}
	pid = json_object_get(state, "pid");
	if (s->process_pid > 0)
		pid_value = s->process_pid;
	else if (json_is_integer(pid) && json_integer_value(pid) > 0)
		pid_value = json_integer_value(pid);
	msg = json_object();
	json_object_set_new(msg, "ociVersion", json_string(OCR_OCI_VERSION));
	json_object_set_new(msg, "fds", json_pack("[s]", "seccompFd"));
	json_object_set_new(msg, "pid", json_integer(pid_value));
	if (s->listener_metadata && s->listener_metadata[0] != '\0')
		json_object_set_new(msg, "metadata", json_string(s->listener_metadata));
	json_object_set_new(msg, "state", state);
	out = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (out == NULL)
		ocr_fail(err, ENOMEM, "serialize the seccomp listener message");
	return out;
}

static int listener_connect(const char *path, struct ocr_error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path))
		return ocr_fail(err, ENAMETOOLONG, "seccomp listener path `%s` is too long", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ocr_fail_errno(err, "seccomp listener socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int so_err = 0;
		socklen_t len = sizeof(so_err);

		if (errno != EINTR)
			return ocr_fail_errno(err, "connect to seccomp listener `%s`", path);
		/* An interrupted connect() completes asynchronously. */
		if (TEMP_FAILURE_RETRY(poll(&p, 1, -1)) < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
			return ocr_fail_errno(err, "connect to seccomp listener `%s`", path);
		if (so_err != 0)
			return fail_rc(err, -so_err, "connect to seccomp listener `%s`", path);
	}
	return steal_fd(&fd);
}

/* The fd rides with the first sendmsg(); the rest of a long message, if
 * any, follows without it (runtime-spec allows several sendmsg calls). */
static int send_all_with_fd(int sock, int fd, const char *data, size_t len)
{
	ssize_t n = send_with_fd(sock, fd, data, len);

	if (n < 0)
		return -1;
	for (size_t off = (size_t)n; off < len; off += (size_t)n) {
		n = TEMP_FAILURE_RETRY(send(sock, data + off, len - off, MSG_NOSIGNAL));
		if (n < 0)
			return -1;
	}
	return 0;
}

int ocr_seccomp_connect(struct ocr_seccomp *s, struct ocr_error *err)
{
	if (!s->notify || s->listener_fd >= 0)
		return 0;
	s->listener_fd = listener_connect(s->listener_path, err);
	return s->listener_fd < 0 ? -1 : 0;
}

int ocr_seccomp_load(struct ocr_seccomp *s, const char *state_json, struct ocr_error *err)
{
	cleanup_free char *msg = NULL;
	cleanup_close int sock = -1;
	int r, nfd;

	/* Everything that may allocate or block runs before the load, so no
	 * syscall the filter sends to the (not yet connected) agent is made
	 * in between: after it only sendmsg() and close() remain. */
	if (s->notify) {
		msg = notify_message(s, state_json, err);
		if (msg == NULL)
			return -1;
		sock = s->listener_fd >= 0 ? steal_fd(&s->listener_fd) : listener_connect(s->listener_path, err);
		if (sock < 0)
			return -1;
	}
	r = seccomp_load(s->ctx);
	if (r < 0) {
		if (r == -EACCES)
			return fail_rc(err, r,
				       "load the seccomp filter (no_new_privs is not set "
				       "and CAP_SYS_ADMIN is missing)");
		return fail_rc(err, r, "load the seccomp filter");
	}
	if (!s->notify)
		return 0;
	nfd = seccomp_notify_fd(s->ctx);
	if (nfd < 0)
		return fail_rc(err, nfd, "get the seccomp listener fd");
	r = send_all_with_fd(sock, nfd, msg, strlen(msg));
	if (r < 0)
		ocr_fail_errno(err, "send the seccomp fd to `%s`", s->listener_path);
	close(nfd);
	if (r == 0 && close(steal_fd(&sock)) < 0 && errno != EINTR)
		return ocr_fail_errno(err, "close the seccomp listener connection");
	return r;
}
