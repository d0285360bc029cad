/* ocirt-rootless: the command table and global options. Only this file
 * prints errors. */
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "utils.h"

/* The rootfs and network options, the same for create and run. */
#define LAYER_AND_NETWORK_HELP                                                                                 \
	"      --layer DIR           a read-only rootfs layer, absolute (repeatable, top first;\n"             \
	"                            root.path is then not used)\n"                                            \
	"      --upper DIR           persistent upper dir for --layer (default: ephemeral)\n"                  \
	"      --overlay auto|kernel|fuse  overlay for --layer (default auto: kernel, else fuse-overlayfs)\n"  \
	"      --network slirp|none  slirp: a tap with NAT to the host's network (ocirt-rootless-net);\n"      \
	"                            none: what config.json says (default)\n"                                  \
	"  -p, --publish [HOSTIP:]HOSTPORT:CPORT[/tcp|udp]  forward a host port (repeatable)\n"                \
	"      --allow-host-loopback let the container reach the host's 127.0.0.1/::1 as 10.0.2.2/fd00::2\n"   \
	"      --mtu N               MTU of the container's tap0 (default 65520)\n"                            \
	"      --port-handler splice|slirp  who serves published TCP ports: splice (default, fast;\n"          \
	"                            clients appear as 10.0.2.100) or libslirp (clients appear as 10.0.2.2)\n" \
	"      --forward-host [CADDR:]CPORT:HOSTPORT[/tcp]  the container's CADDR:CPORT (default\n"            \
	"                            127.0.0.1) reaches the host's 127.0.0.1:HOSTPORT (::1 for an IPv6\n"      \
	"                            CADDR); one port, no --allow-host-loopback needed (repeatable)\n"

static const struct cmd commands[] = {
	{"spec", cmd_spec, "spec [--rootless] [-b DIR]", "write a default config.json",
	 "  -b, --bundle DIR   where to write config.json (default: .)\n"
	 "      --rootless     a config for an unprivileged user (user namespace, no network namespace)\n"},
	{"create", cmd_create, "create [OPTIONS] ID", "create a container; its process waits for `start`",
	 "  -b, --bundle DIR          bundle with config.json (default: .)\n"
	 "      --pid-file FILE       write the container's init pid to FILE\n"
	 "      --console-socket SOCK send the pty master to this unix socket (process.terminal)\n"
	 "      --no-pivot            move the rootfs to / and chroot instead of pivot_root\n"
	 "      --no-new-keyring      accepted for compatibility (no session keyring is made)\n"
	 "      --preserve-fds N      pass N more fds (from 3) to the container\n" LAYER_AND_NETWORK_HELP},
	{"start", cmd_start, "start ID", "run the user process of a created container", ""},
	{"run", cmd_run, "run [OPTIONS] ID", "create and start a container; wait for it unless -d",
	 "  -b, --bundle DIR          bundle with config.json (default: .)\n"
	 "  -d, --detach              return once the process runs\n"
	 "      --pid-file FILE       write the container's init pid to FILE\n"
	 "      --console-socket SOCK send the pty master to this unix socket\n"
	 "      --no-pivot            move the rootfs to / and chroot instead of pivot_root\n"
	 "      --no-new-keyring      accepted for compatibility\n"
	 "      --preserve-fds N      pass N more fds (from 3) to the container\n" LAYER_AND_NETWORK_HELP},
	{"state", cmd_state, "state ID", "print the state of a container as JSON", ""},
	{"list", cmd_list, "list [-f table|json] [-q]", "list containers",
	 "  -f, --format FMT   table (default) or json\n"
	 "  -q, --quiet        ids only\n"},
	{"kill", cmd_kill, "kill [-a] ID [SIGNAL]", "send a signal (default TERM) to a container",
	 "  -a, --all          every process of the container, not only its init\n"},
	{"exec", cmd_exec, "exec [OPTIONS] ID [COMMAND [ARGS...]]", "run another process in a container",
	 "      --process FILE        a runtime-spec process JSON (instead of COMMAND)\n"
	 "  -t, --tty                 allocate a pty\n"
	 "  -d, --detach              return once the process runs\n"
	 "      --console-socket SOCK send the pty master to this unix socket\n"
	 "      --pid-file FILE       write the process's pid to FILE\n"
	 "      --preserve-fds N      pass N more fds (from 3)\n"
	 "  -e, --env KEY=VALUE       set an environment variable (repeatable)\n"
	 "      --cwd DIR             working directory in the container\n"
	 "  -u, --user UID[:GID]      run as this user\n"
	 "      --additional-gids GID add a supplementary group (repeatable)\n"
	 "      --cap CAP             add a capability (repeatable)\n"
	 "      --no-new-privs        set no_new_privs\n"
	 "      --apparmor PROFILE    AppArmor profile\n"
	 "      --process-label LABEL SELinux label\n"},
	{"features", cmd_features, "features", "print what this runtime supports as JSON (runtime-spec features)", ""},
	{"delete", cmd_delete, "delete [-f] ID", "delete a stopped (or created) container",
	 "  -f, --force        kill a running container first; no error if it does not exist\n"},
	{"doctor", cmd_doctor, "doctor [--format text|json] [--bundle DIR]",
	 "check this host (and a bundle's config.json) for rootless containers; print the fix for each problem",
	 "  -f, --format FMT   text (default: one line per check) or json\n"
	 "      --json         same as --format json\n"
	 "  -b, --bundle DIR   also check DIR/config.json: load errors and risky settings, each\n"
	 "                     naming the JSON pointer of the field\n"},
	{"check", cmd_doctor, "check [--format text|json] [--bundle DIR]", "the same as `doctor`",
	 "  -f, --format FMT   text (default: one line per check) or json\n"
	 "      --json         same as --format json\n"
	 "  -b, --bundle DIR   also check DIR/config.json: load errors and risky settings, each\n"
	 "                     naming the JSON pointer of the field\n"},
	{"pause", cmd_pause, "pause ID", "freeze every process of a container (cgroup.freeze)", ""},
	{"resume", cmd_resume, "resume ID", "thaw a paused container", ""},
	{"update", cmd_update, "update [OPTIONS] ID", "change the cgroup limits of a running container",
	 "  -r, --resources FILE        a runtime-spec LinuxResources JSON (- for stdin); flags override it\n"
	 "      --memory SIZE           memory limit (memory.max), e.g. 512m; -1 unlimited\n"
	 "      --memory-reservation SIZE  soft limit (memory.low)\n"
	 "      --memory-swap SIZE      memory+swap limit (memory.swap.max = SIZE - memory)\n"
	 "      --cpu-shares N          relative weight, 2..262144 (cpu.weight, converted as runc/crun)\n"
	 "      --cpu-quota US          CPU time per period in microseconds; -1 unlimited (cpu.max)\n"
	 "      --cpu-period US         the period of --cpu-quota (cpu.max)\n"
	 "      --cpuset-cpus LIST      CPUs allowed, e.g. 0-2,4 (cpuset.cpus)\n"
	 "      --cpuset-mems LIST      memory nodes allowed (cpuset.mems)\n"
	 "      --pids-limit N          maximum number of tasks; -1 unlimited (pids.max)\n"
	 "      --blkio-weight N        block I/O weight, 10..1000 (io.weight, converted)\n"
	 "      --kernel-memory, --kernel-memory-tcp, --cpu-rt-period, --cpu-rt-runtime\n"
	 "                              accepted; cgroup v2 has no such limits (warning)\n"},
	{"events", cmd_events, "events [--stats] [--interval D] ID",
	 "print cgroup statistics (and OOM events) of a container as JSON lines",
	 "      --stats         print one stats object and exit\n"
	 "      --interval D    time between stats objects, e.g. 5s, 500ms (default 5s)\n"},
	{"ps", cmd_ps, "ps [--format table|json] ID [PS OPTIONS...]", "list the processes of a container",
	 "  -f, --format FMT   table (default: `ps` output, PS OPTIONS default -ef) or json (pids)\n"},
	{"port", cmd_port, "port list|add|rm ID [[HOSTIP:]HOSTPORT:CPORT[/tcp|udp] | FORWARD-ID]",
	 "list, add or remove published ports of a running container (--network slirp)",
	 "  -f, --format FMT   list: table (default) or json\n"},
	{"bundle", cmd_bundle, "bundle --image OCI_LAYOUT[:TAG] [--cache DIR] [--rootless] BUNDLE",
	 "make a bundle from a local OCI image layout; layers are unpacked once into a cache",
	 "      --image LAYOUT[:TAG]  OCI image layout directory, and the tag (default: its only image)\n"
	 "      --cache DIR           unpacked layers (default: $XDG_CACHE_HOME/ocirt-rootless or\n"
	 "                            ~/.cache/ocirt-rootless)\n"
	 "      --rootless            a config for an unprivileged user (the default unless run as root)\n"},
};

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cmd_print_help(const char *verb)
{
	const struct cmd *c = find_command(verb);

	if (c == NULL)
		return;
	printf("Usage: ocirt-rootless [GLOBAL OPTIONS] %s\n\n%s\n\nOptions:\n%s  -h, --help         this help\n",
	       c->usage, c->summary, c->help);
}

static void print_usage(FILE *out)
{
	fprintf(out, "Usage: ocirt-rootless [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
		     "A rootless OCI container runtime.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nGlobal options:\n"
		     "  --root DIR              state directory (default: $XDG_RUNTIME_DIR/ocirt-rootless)\n"
		     "  --log FILE              write log lines to FILE\n"
		     "  --log-format FMT        text (default) or json\n"
		     "  --debug                 debug lines in the log\n"
		     "  --systemd-cgroup        use the systemd cgroup manager\n"
		     "  --cgroup-manager MGR    systemd, cgroupfs or disabled\n"
		     "  --idmap-helper PATH     write id maps with this program: newuidmap-shim, or shadow's\n"
		     "                          newuidmap (newgidmap beside it) (also $OCIRT_IDMAP_HELPER)\n"
		     "  --rootless VALUE        accepted for runc compatibility; ignored\n"
		     "  -v, --version           print the version\n"
		     "  -h, --help              this help\n\n"
		     "`ocirt-rootless COMMAND --help` describes a command.\n");
}

static bool in_initial_userns(void)
{
	char buf[128];
	cleanup_close int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_all(fd, buf, sizeof(buf) - 1) : -1;
	unsigned a, b, c;

	if (n <= 0)
		return true;
	buf[n] = '\0';
	return sscanf(buf, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295U &&
	       strchr(buf, '\n') == buf + strlen(buf) - 1;
}

/* $XDG_RUNTIME_DIR/ocirt-rootless when it is ours, else a private dir
 * in /tmp (state_open_root verifies owner and mode). */
static char *default_root(uid_t euid, bool initial)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (euid == 0 && initial)
		return xstrdup("/run/ocirt-rootless");
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == euid)
		return xasprintf("%s/ocirt-rootless", xdg);
	return xasprintf("/tmp/ocirt-rootless-%u", (unsigned)euid);
}

enum {
	OPT_ROOT = 256,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD_CGROUP,
	OPT_CGROUP_MANAGER,
	OPT_ROOTLESS,
	OPT_IDMAP_HELPER
};

static int parse_globals(int argc, char **argv, struct ocr_ctx *ctx, char **root, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, OPT_ROOT},
		{"log", required_argument, NULL, OPT_LOG},
		{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
		{"debug", no_argument, NULL, OPT_DEBUG},
		{"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP},
		{"cgroup-manager", required_argument, NULL, OPT_CGROUP_MANAGER},
		{"rootless", required_argument, NULL, OPT_ROOTLESS},
		{"idmap-helper", required_argument, NULL, OPT_IDMAP_HELPER},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = cmd_getopt(argc, argv, "+vh", opts, "ocirt-rootless", err)) != -1) {
		switch (c) {
		case OPT_ROOT:
			free(*root);
			*root = xstrdup(optarg);
			break;
		case OPT_LOG:
			if (ocr_log_open(&ctx->log, optarg) < 0)
				return ocr_fail_errno(err, "--log `%s`", optarg);
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return ocr_fail(err, EINVAL, "--log-format: `%s` is not text or json", optarg);
			ctx->log.json = strcmp(optarg, "json") == 0;
			break;
		case OPT_DEBUG:
			ctx->log.debug = true;
			break;
		case OPT_SYSTEMD_CGROUP:
			ctx->cgroup_manager = OCR_CGROUP_SYSTEMD;
			break;
		case OPT_CGROUP_MANAGER:
			if (strcmp(optarg, "systemd") == 0)
				ctx->cgroup_manager = OCR_CGROUP_SYSTEMD;
			else if (strcmp(optarg, "cgroupfs") == 0)
				ctx->cgroup_manager = OCR_CGROUP_CGROUPFS;
			else if (strcmp(optarg, "disabled") == 0)
				ctx->cgroup_manager = OCR_CGROUP_DISABLED;
			else
				return ocr_fail(err, EINVAL,
						"--cgroup-manager: `%s` is not systemd, cgroupfs or disabled", optarg);
			break;
		case OPT_ROOTLESS:
			break; /* runc compatibility: always rootless-aware */
		case OPT_IDMAP_HELPER:
			ctx->idmap_helper = optarg;
			break;
		case 'v':
			printf("ocirt-rootless version %s\nspec: %s\n", OCR_VERSION, "1.2.0");
			exit(0);
		case 'h':
			print_usage(stdout);
			exit(0);
		case '?':
			return -1;
		default:
			return ocr_fail(err, EINVAL, "bad option");
		}
	}
	return 0;
}

static int report(const struct ocr_ctx *ctx, const struct ocr_error *err)
{
	char raw[OCR_ERROR_MSG_MAX + 256], msg[4 * (OCR_ERROR_MSG_MAX + 256)];

	/* One line, whatever a message quotes (an id, a path from an image):
	 * control characters are printed escaped. */
	ocr_error_format(err, raw, sizeof(raw));
	str_escape(msg, sizeof(msg), raw);
	/* With --log the error goes there too: conmon/Podman read it. */
	if (ctx->log.fd >= 0) {
		struct ocr_log only_file = ctx->log;
		only_file.to_stderr = false;
		ocr_logf(&only_file, OCR_LOG_ERROR, "%s", msg);
	}
	fprintf(stderr, "ocirt-rootless: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	struct ocr_ctx ctx = {.cgroup_manager = OCR_CGROUP_AUTO};
	struct ocr_error err = {0};
	cleanup_free char *root = NULL;
	const struct cmd *c;
	int rc;

	ocr_log_init(&ctx.log);
	ctx.euid = geteuid();
	ctx.egid = getegid();
	ctx.initial_userns = in_initial_userns();
	if (parse_globals(argc, argv, &ctx, &root, &err) < 0)
		return report(&ctx, &err);
	if (optind >= argc) {
		print_usage(stderr);
		return 1;
	}
	c = find_command(argv[optind]);
	if (c == NULL) {
		ocr_fail(&err, EINVAL, "unknown command `%s` (see `ocirt-rootless --help`)", argv[optind]);
		return report(&ctx, &err);
	}
	if (root == NULL)
		root = default_root(ctx.euid, ctx.initial_userns);
	ctx.root = root;
	argc -= optind;
	argv += optind;
	optind = 0; /* full getopt reset for the verb's own flags */
	rc = c->fn(&ctx, argc, argv, &err);
	if (rc < 0)
		rc = report(&ctx, &err);
	fflush(stdout);
	ocr_log_close(&ctx.log);
	return rc;
}
