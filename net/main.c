/* ocirt-rootless-net: started by `ocirt-rootless create` for a container
 * that asked for --network slirp. Not meant to be run by hand; the
 * runtime passes:
 *
 *   ocirt-rootless-net --id ID --pid PID [--pid-starttime T] --ready-fd FD
 *       [--api-dirfd FD --api-socket NAME] [--mtu N] [--allow-host-loopback]
 *       [--no-ipv6] [--forward PROTO,HOSTIP,HOSTPORT,CPORT]... [--dns-upstream ADDR,PORT]
 *       [--port-handler slirp|splice] [--forward-host CADDR,CPORT,HOSTPORT]...
 *       [--no-sandbox] [--no-seccomp] [--no-offload] [--debug] [--log-format text|json]
 *
 * Start-up order: check the init, make the tap (tap.c), start the socket
 * factory for the splice port handler and --forward-host (sockfactory.c),
 * listen in the container for --forward-host, start libslirp with the
 * forwards, bind the API socket, enter the sandbox, then write
 * "ok" to the ready fd (or "error ERRNO MESSAGE" and exit 1) and serve
 * packets until the init exits or SIGTERM/SIGINT/SIGHUP arrives. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "net.h"
#include "utils.h"

/* ---- log -------------------------------------------------------------- */

static struct {
	const char *id;
	bool debug, json;
} logcfg = {.id = "?"};

void net_log_setup(const char *id, bool debug, bool json)
{
	logcfg.id = id;
	logcfg.debug = debug;
	logcfg.json = json;
}

static void net_vlog(const char *level, const char *fmt, va_list ap)
{
	char msg[2048], line[4096], ts[64];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	format_timestamp(ts, sizeof(ts));
	if (logcfg.json) {
		json_t *o = json_pack("{s:s,s:s,s:s}", "level", level, "msg", msg, "time", ts);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		n = snprintf(line, sizeof(line), "%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		n = snprintf(line, sizeof(line), "%s %s: ocirt-rootless-net[%s]: %s\n", ts, level, logcfg.id, msg);
	}
	if (n > 0)
		write_all(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void net_debug(const char *fmt, ...)
{
	va_list ap;

	if (!logcfg.debug)
		return;
	va_start(ap, fmt);
	net_vlog("debug", fmt, ap);
	va_end(ap);
}

void net_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	net_vlog("info", fmt, ap);
	va_end(ap);
}

/* ---- arguments -------------------------------------------------------- */

enum {
	OPT_ID = 256,
	OPT_PID,
	OPT_PID_START,
	OPT_READY_FD,
	OPT_API_DIRFD,
	OPT_API_SOCKET,
	OPT_MTU,
	OPT_ALLOW_LOOPBACK,
	OPT_NO_IPV6,
	OPT_FORWARD,
	OPT_NO_SANDBOX,
	OPT_NO_SECCOMP,
	OPT_DEBUG,
	OPT_LOG_FORMAT,
	OPT_NO_OFFLOAD,
	OPT_DNS_UPSTREAM,
	OPT_PORT_HANDLER,
	OPT_FORWARD_HOST
};

static const struct option options[] = {
	{"id", required_argument, NULL, OPT_ID},
	{"pid", required_argument, NULL, OPT_PID},
	{"pid-starttime", required_argument, NULL, OPT_PID_START},
	{"ready-fd", required_argument, NULL, OPT_READY_FD},
	{"api-dirfd", required_argument, NULL, OPT_API_DIRFD},
	{"api-socket", required_argument, NULL, OPT_API_SOCKET},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"allow-host-loopback", no_argument, NULL, OPT_ALLOW_LOOPBACK},
	{"no-ipv6", no_argument, NULL, OPT_NO_IPV6},
	{"forward", required_argument, NULL, OPT_FORWARD},
	{"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
	{"dns-upstream", required_argument, NULL, OPT_DNS_UPSTREAM},
	{"port-handler", required_argument, NULL, OPT_PORT_HANDLER},
	{"forward-host", required_argument, NULL, OPT_FORWARD_HOST},
	{"debug", no_argument, NULL, OPT_DEBUG},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{NULL, 0, NULL, 0},
};

static int parse_num(const char *s, const char *flag, uint64_t max, uint64_t *ret, struct ocr_error *err)
{
	if (parse_u64(s, ret) < 0 || *ret > max)
		return ocr_fail(err, EINVAL, "%s `%s`: not a number up to %llu", flag, s, (unsigned long long)max);
	return 0;
}

static int parse_args(int argc, char **argv, struct net_config *cfg, bool *debug, bool *json, struct ocr_error *err)
{
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			cfg->id = optarg;
			break;
		case OPT_PID:
			if (parse_num(optarg, "--pid", INT32_MAX, &v, err) < 0)
				return -1;
			cfg->pid = (pid_t)v;
			break;
		case OPT_PID_START:
			if (parse_num(optarg, "--pid-starttime", UINT64_MAX, &v, err) < 0)
				return -1;
			cfg->pid_starttime = v;
			break;
		case OPT_READY_FD:
			if (parse_num(optarg, "--ready-fd", INT32_MAX, &v, err) < 0)
				return -1;
			cfg->ready_fd = (int)v;
			break;
		case OPT_API_DIRFD:
			if (parse_num(optarg, "--api-dirfd", INT32_MAX, &v, err) < 0)
				return -1;
			cfg->api_dirfd = (int)v;
			break;
		case OPT_API_SOCKET:
			cfg->api_name = optarg;
			break;
		case OPT_MTU:
			if (parse_num(optarg, "--mtu", NET_MTU_MAX, &v, err) < 0)
				return -1;
			if (v < NET_MTU_MIN)
				return ocr_fail(err, EINVAL, "--mtu %s: below %d", optarg, NET_MTU_MIN);
			cfg->mtu = (unsigned)v;
			break;
		case OPT_ALLOW_LOOPBACK:
			cfg->allow_host_loopback = true;
			break;
		case OPT_NO_IPV6:
			cfg->ipv6 = false;
			break;
		case OPT_FORWARD:
			if (cfg->n_forwards >= NET_MAX_FORWARDS)
				return ocr_fail(err, E2BIG, "more than %d forwards", NET_MAX_FORWARDS);
			if (forward_parse(optarg, &cfg->forwards[cfg->n_forwards], err) < 0)
				return -1;
			cfg->n_forwards++;
			break;
		case OPT_FORWARD_HOST:
			if (cfg->n_host_forwards >= NET_MAX_FORWARDS)
				return ocr_fail(err, E2BIG, "more than %d --forward-host", NET_MAX_FORWARDS);
			if (forward_host_parse(optarg, &cfg->host_forwards[cfg->n_host_forwards], err) < 0)
				return -1;
			cfg->host_forwards[cfg->n_host_forwards].id = (int)cfg->n_host_forwards + 1;
			cfg->n_host_forwards++;
			break;
		case OPT_NO_SANDBOX:
			cfg->sandbox = false;
			break;
		case OPT_NO_SECCOMP:
			cfg->seccomp = false;
			break;
		case OPT_NO_OFFLOAD:
			cfg->offload = false;
			break;
		case OPT_DNS_UPSTREAM:
			if (dns_upstream_parse(optarg, &cfg->dns_upstream, &cfg->dns_upstream_len, err) < 0)
				return -1;
			break;
		case OPT_PORT_HANDLER:
			if (strcmp(optarg, "slirp") == 0)
				cfg->port_handler = NET_PORT_SLIRP;
			else if (strcmp(optarg, "splice") == 0)
				cfg->port_handler = NET_PORT_SPLICE;
			else
				return ocr_fail(err, EINVAL, "--port-handler `%s`: not slirp or splice", optarg);
			break;
		case OPT_DEBUG:
			*debug = true;
			break;
		case OPT_LOG_FORMAT:
			*json = strcmp(optarg, "json") == 0;
			break;
		case '?':
		default:
			return ocr_fail(err, EINVAL,
					"unknown or incomplete option `%s` (this program is started by "
					"ocirt-rootless)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ocr_fail(err, EINVAL, "unexpected argument `%s`", argv[optind]);
	if (cfg->pid <= 0)
		return ocr_fail(err, EINVAL, "--pid is required");
	if (cfg->mtu < NET_IPV6_MTU_MIN)
		cfg->ipv6 = false;
	if (cfg->api_dirfd >= 0 && cfg->api_name == NULL)
		cfg->api_name = "net.sock";
	return 0;
}

/* ---- start-up --------------------------------------------------------- */

static void report(int fd, const char *line)
{
	if (fd < 0)
		return;
	if (write_all(fd, line, strlen(line)) < 0) {
		/* the runtime went away; it will not read it */
	}
}

static void report_error(int fd, const struct ocr_error *err)
{
	char msg[OCR_ERROR_MSG_MAX + 128], line[OCR_ERROR_MSG_MAX + 160];

	ocr_error_format(err, msg, sizeof(msg));
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	snprintf(line, sizeof(line), "error %d %s\n", err->err, msg);
	report(fd, line);
	net_debug("%s", msg);
}

static int read_unprivileged_port_start(void)
{
	cleanup_free char *s = NULL;
	struct ocr_error ignored = {0};
	uint64_t v;

	if (read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_unprivileged_port_start", 64, &s, NULL, &ignored) < 0)
		return 1024;
	s[strcspn(s, "\n")] = '\0';
	return parse_u64(s, &v) == 0 && v <= 65536 ? (int)v : 1024;
}

static int check_init(const struct net_config *cfg, struct ocr_error *err)
{
	unsigned long long start;

	if (proc_stat(cfg->pid, &start, NULL) < 0)
		return ocr_fail(err, ESRCH, "container init %d is gone", (int)cfg->pid);
	if (cfg->pid_starttime && start != cfg->pid_starttime)
		return ocr_fail(err, ESRCH, "container init %d is gone (pid reused)", (int)cfg->pid);
	return 0;
}

/* The relay for published TCP ports (with --port-handler splice) and
 * --forward-host; NULL when neither is asked for. Before the sandbox,
 * which denies setns for good. Listeners for --forward-host exist before
 * "ok": the container's process finds them from its first instruction. */
static int start_splice(const struct net_config *cfg, struct splice_handler **ret, struct ocr_error *err)
{
	struct sockfactory *factory = NULL;
	const char *what = cfg->port_handler == NET_PORT_SPLICE ? "splice port handler" : "--forward-host";

	*ret = NULL;
	if (cfg->port_handler != NET_PORT_SPLICE && cfg->n_host_forwards == 0)
		return 0;
	if (sockfactory_start(cfg, &factory, err) < 0)
		return ocr_wrap(err, "%s", what);
	if (splice_new(factory, ret, err) < 0)
		return ocr_wrap(err, "%s", what);
	for (size_t i = 0; i < cfg->n_host_forwards; i++) {
		char desc[160];
		forward_describe(&cfg->host_forwards[i], desc, sizeof(desc));
		if (splice_listen(*ret, &cfg->host_forwards[i], err) < 0)
			return ocr_wrap(err, "--forward-host %s", desc);
		net_debug("forward-host %d: %s (splice)", cfg->host_forwards[i].id, desc);
	}
	return 0;
}

static int start(struct net_config *cfg, struct net_loop **ret_loop, int *ret_tap, int *ret_api, struct ocr_error *err)
{
	struct splice_handler *splice = NULL;

	if (check_init(cfg, err) < 0)
		return -1;
	cfg->unprivileged_port_start = read_unprivileged_port_start();
	*ret_tap = tap_create(cfg, &cfg->ipv6, err);
	if (*ret_tap < 0)
		return -1;
	if (start_splice(cfg, &splice, err) < 0) {
		splice_free(splice);
		return -1;
	}
	if (loop_new(cfg, *ret_tap, splice, ret_loop, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_forwards; i++)
		if (loop_add_forward(*ret_loop, &cfg->forwards[i], err) < 0)
			return ocr_wrap(err, "--publish");
	if (cfg->api_dirfd >= 0) {
		*ret_api = api_listen(cfg->api_dirfd, cfg->api_name, err);
		if (*ret_api < 0)
			return -1;
		close(cfg->api_dirfd);
		cfg->api_dirfd = -1;
	}
	return sandbox_enter(cfg, err);
}

int main(int argc, char **argv)
{
	struct net_config cfg = {.id = "?",
				 .mtu = NET_MTU_DEFAULT,
				 .ipv6 = true,
				 .sandbox = true,
				 .seccomp = true,
				 .offload = true,
				 .ready_fd = -1,
				 .api_dirfd = -1};
	struct ocr_error err = {0};
	struct net_loop *loop = NULL;
	int tapfd = -1, apifd = -1, rc;
	bool debug = false, json = false;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &cfg, &debug, &json, &err) < 0) {
		char msg[OCR_ERROR_MSG_MAX + 128];
		ocr_error_format(&err, msg, sizeof(msg));
		report_error(cfg.ready_fd, &err);
		fprintf(stderr, "ocirt-rootless-net: %s\n", msg);
		return 2;
	}
	net_log_setup(cfg.id, debug, json);
	if (start(&cfg, &loop, &tapfd, &apifd, &err) < 0) {
		report_error(cfg.ready_fd, &err);
		loop_free(loop);
		return 1;
	}
	net_debug("ready: %s up in the network namespace of pid %d, %zu forwards, %zu to the host", NET_TAP_NAME,
		  (int)cfg.pid, cfg.n_forwards, cfg.n_host_forwards);
	report(cfg.ready_fd, "ok\n");
	close(cfg.ready_fd);
	rc = loop_run(loop, apifd, &err);
	if (rc < 0) {
		char msg[OCR_ERROR_MSG_MAX + 128];
		ocr_error_format(&err, msg, sizeof(msg));
		net_info("stopping: %s", msg);
	}
	loop_free(loop);
	if (apifd >= 0)
		close(apifd);
	close(tapfd);
	return rc < 0 ? 1 : 0;
}
