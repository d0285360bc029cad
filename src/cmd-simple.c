/* Verbs that take an id and little else. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "signals.h"

int cmd_start(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	const char *id;
	int r = cmd_parse_id("start", argc, argv, &id, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	return container_start(ctx, id, err) < 0 ? -1 : 0;
}

int cmd_state(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	const char *id;
	char *json = NULL;
	int r = cmd_parse_id("state", argc, argv, &id, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (container_state(ctx, id, &json, err) < 0)
		return -1;
	printf("%s\n", json);
	free(json);
	return 0;
}

int cmd_list(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	bool json = false, quiet = false;
	int c;

	while ((c = cmd_getopt(argc, argv, "f:qh", opts, "list", err)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
				return ocr_fail(err, EINVAL, "list: --format `%s` is not table or json", optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			cmd_print_help("list");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 0, false, "list", err) < 0)
		return -1;
	return container_list(ctx, json, quiet, stdout, err) < 0 ? -1 : 0;
}

int cmd_kill(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	bool all = false;
	int c, sig = 15;

	while ((c = cmd_getopt(argc, argv, "ah", opts, "kill", err)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			cmd_print_help("kill");
			return 0;
		default:
			return -1;
		}
	}
	if (argc - optind == 2) {
		sig = signal_parse(argv[optind + 1]);
		if (sig < 0)
			return ocr_fail(err, EINVAL, "kill: unknown signal `%s`", argv[optind + 1]);
	} else if (cmd_positional(argc, argv, 1, false, "kill", err) < 0) {
		return -1;
	}
	return container_kill(ctx, argv[optind], sig, all, err) < 0 ? -1 : 0;
}

int cmd_delete(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;

	while ((c = cmd_getopt(argc, argv, "fh", opts, "delete", err)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			cmd_print_help("delete");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, false, "delete", err) < 0)
		return -1;
	if (container_delete(ctx, argv[optind], force, err) < 0) {
		/* runc: --force on a container that is already gone succeeds */
		if (force && err->err == ENOENT)
			return 0;
		return -1;
	}
	return 0;
}
