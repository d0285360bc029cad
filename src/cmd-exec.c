#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exec.h"
#include "utils.h"

enum {
	OPT_PROCESS = 256,
	OPT_CONSOLE_SOCKET,
	OPT_PID_FILE,
	OPT_PRESERVE_FDS,
	OPT_CWD,
	OPT_ADD_GIDS,
	OPT_NO_NEW_PRIVS,
	OPT_APPARMOR,
	OPT_LABEL,
	OPT_CAP
};

static void push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

int cmd_exec(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"process", required_argument, NULL, OPT_PROCESS},
		{"tty", no_argument, NULL, 't'},
		{"detach", no_argument, NULL, 'd'},
		{"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
		{"pid-file", required_argument, NULL, OPT_PID_FILE},
		{"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
		{"env", required_argument, NULL, 'e'},
		{"cwd", required_argument, NULL, OPT_CWD},
		{"user", required_argument, NULL, 'u'},
		{"additional-gids", required_argument, NULL, OPT_ADD_GIDS},
		{"cap", required_argument, NULL, OPT_CAP},
		{"no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS},
		{"apparmor", required_argument, NULL, OPT_APPARMOR},
		{"process-label", required_argument, NULL, OPT_LABEL},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct exec_opts o = {0};
	cleanup_free char **env = NULL;
	cleanup_free char **caps = NULL;
	size_t n_env = 0, n_caps = 0;
	int c, status;

	while ((c = cmd_getopt(argc, argv, "+tde:u:h", opts, "exec", err)) != -1) {
		uint64_t gid;
		switch (c) {
		case OPT_PROCESS:
			o.process_file = optarg;
			break;
		case 't':
			o.tty = true;
			break;
		case 'd':
			o.detach = true;
			break;
		case OPT_CONSOLE_SOCKET:
			o.console_socket = optarg;
			break;
		case OPT_PID_FILE:
			o.pid_file = optarg;
			break;
		case OPT_PRESERVE_FDS:
			if (cmd_parse_int(optarg, "--preserve-fds", &o.preserve_fds, err) < 0)
				return -1;
			break;
		case 'e':
			if (strchr(optarg, '=') == NULL)
				return ocr_fail(err, EINVAL, "exec: --env `%s`: expected KEY=VALUE", optarg);
			push(&env, &n_env, optarg);
			break;
		case OPT_CWD:
			o.cwd = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case OPT_ADD_GIDS:
			if (parse_u64(optarg, &gid) < 0 || gid > UINT32_MAX)
				return ocr_fail(err, EINVAL, "exec: --additional-gids `%s` is not a gid", optarg);
			o.additional_gids = xrealloc(o.additional_gids, (o.n_additional_gids + 1) * sizeof(uint32_t));
			o.additional_gids[o.n_additional_gids++] = (uint32_t)gid;
			break;
		case OPT_CAP:
			push(&caps, &n_caps, optarg);
			break;
		case OPT_NO_NEW_PRIVS:
			o.no_new_privs = true;
			break;
		case OPT_APPARMOR:
			o.apparmor = optarg;
			break;
		case OPT_LABEL:
			o.process_label = optarg;
			break;
		case 'h':
			cmd_print_help("exec");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, true, "exec", err) < 0) {
		free(o.additional_gids);
		return -1;
	}
	o.id = argv[optind];
	o.args = argv + optind + 1;
	o.env = env;
	o.caps = caps;
	if (container_exec(ctx, &o, &status, err) < 0)
		status = -1;
	free(o.additional_gids);
	return status;
}
