/* port: the published ports of a running container with --network slirp,
 * changed at run time through its network helper's API socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "network.h"

static int port_list(struct ocr_ctx *ctx, const char *id, bool json, struct ocr_error *err)
{
	json_t *entries = NULL;
	size_t i;
	json_t *e;

	if (network_port_list(ctx, id, &entries, err) < 0)
		return -1;
	if (json) {
		char *s = json_dumps(entries, JSON_COMPACT);
		printf("%s\n", s ? s : "[]");
		free(s);
		json_decref(entries);
		return 0;
	}
	printf("%-4s %-5s %-28s %s\n", "ID", "PROTO", "HOST", "CONTAINER");
	json_array_foreach (entries, i, e) {
		const char *h = json_string_value(json_object_get(e, "host_addr"));
		const char *g = json_string_value(json_object_get(e, "guest_addr"));
		bool v6 = h && strchr(h, ':');
		char host[80], guest[80];
		snprintf(host, sizeof(host), v6 ? "[%s]:%lld" : "%s:%lld", h ? h : "?",
			 (long long)json_integer_value(json_object_get(e, "host_port")));
		snprintf(guest, sizeof(guest), g && strchr(g, ':') ? "[%s]:%lld" : "%s:%lld", g ? g : "?",
			 (long long)json_integer_value(json_object_get(e, "guest_port")));
		printf("%-4lld %-5s %-28s %s\n", (long long)json_integer_value(json_object_get(e, "id")),
		       json_string_value(json_object_get(e, "proto")), host, guest);
	}
	json_decref(entries);
	return 0;
}

int cmd_port(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	const char *action, *id;
	int c;

	while ((c = cmd_getopt(argc, argv, "f:h", opts, "port", err)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
				return ocr_fail(err, EINVAL, "port: --format `%s` is not table or json", optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'h':
			cmd_print_help("port");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 2, true, "port", err) < 0)
		return -1;
	action = argv[optind];
	id = argv[optind + 1];
	if (strcmp(action, "list") == 0 || strcmp(action, "ls") == 0) {
		if (cmd_positional(argc, argv, 2, false, "port", err) < 0)
			return -1;
		return port_list(ctx, id, json, err) < 0 ? -1 : 0;
	}
	if (strcmp(action, "add") == 0) {
		struct net_publish p;
		int fwd;
		if (cmd_positional(argc, argv, 3, false, "port", err) < 0)
			return -1;
		if (network_parse_publish(argv[optind + 2], &p, err) < 0)
			return ocr_wrap(err, "port add");
		if (network_port_add(ctx, id, &p, &fwd, err) < 0)
			return ocr_wrap(err, "port add `%s`", argv[optind + 2]);
		printf("%d\n", fwd);
		return 0;
	}
	if (strcmp(action, "rm") == 0 || strcmp(action, "remove") == 0) {
		int fwd;
		if (cmd_positional(argc, argv, 3, false, "port", err) < 0 ||
		    cmd_parse_int(argv[optind + 2], "FORWARD-ID", &fwd, err) < 0)
			return -1;
		if (network_port_remove(ctx, id, fwd, err) < 0)
			return ocr_wrap(err, "port rm %d", fwd);
		return 0;
	}
	return ocr_fail(err, EINVAL, "port: unknown action `%s` (list, add or rm)", action);
}
