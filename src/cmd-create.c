#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "container.h"
#include "utils.h"

enum {
	OPT_PID_FILE = 256,
	OPT_CONSOLE_SOCKET,
	OPT_NO_PIVOT,
	OPT_NO_NEW_KEYRING,
	OPT_PRESERVE_FDS,
	OPT_LAYER,
	OPT_UPPER,
	OPT_OVERLAY
};
enum { OPT_NETWORK = 320, OPT_ALLOW_HOST_LOOPBACK, OPT_MTU, OPT_PORT_HANDLER, OPT_FORWARD_HOST };

static const struct option create_opts[] = {
	{"bundle", required_argument, NULL, 'b'},
	{"pid-file", required_argument, NULL, OPT_PID_FILE},
	{"console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET},
	{"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
	{"no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING},
	{"preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS},
	{"detach", no_argument, NULL, 'd'},
	{"layer", required_argument, NULL, OPT_LAYER},
	{"upper", required_argument, NULL, OPT_UPPER},
	{"overlay", required_argument, NULL, OPT_OVERLAY},
	{"network", required_argument, NULL, OPT_NETWORK},
	{"publish", required_argument, NULL, 'p'},
	{"allow-host-loopback", no_argument, NULL, OPT_ALLOW_HOST_LOOPBACK},
	{"mtu", required_argument, NULL, OPT_MTU},
	{"port-handler", required_argument, NULL, OPT_PORT_HANDLER},
	{"forward-host", required_argument, NULL, OPT_FORWARD_HOST},
	CMD_HELP_OPTION,
	{NULL, 0, NULL, 0},
};

/* --network, --publish and --forward-host (repeatable), --mtu,
 * --port-handler: checked here
 * so a typo fails before anything is created; network_setup() reads them. */
static int parse_net_flag(int c, struct net_options *n, struct ocr_error *err)
{
	struct net_publish p;
	struct net_forward_host fh;
	unsigned mtu;
	bool splice;

	switch (c) {
	case OPT_NETWORK:
		if (network_parse_mode(optarg, err) < 0)
			return ocr_wrap(err, "--network");
		n->mode = optarg;
		return 0;
	case 'p': {
		size_t k = strv_len(n->publish);
		if (network_parse_publish(optarg, &p, err) < 0)
			return ocr_wrap(err, "--publish");
		if (k >= NETWORK_MAX_PUBLISH)
			return ocr_fail(err, E2BIG, "--publish: at most %d", NETWORK_MAX_PUBLISH);
		n->publish = xrealloc(n->publish, (k + 2) * sizeof(char *));
		n->publish[k] = optarg;
		n->publish[k + 1] = NULL;
		return 0;
	}
	case OPT_FORWARD_HOST: {
		size_t k = strv_len(n->forward_host);
		if (network_parse_forward_host(optarg, &fh, err) < 0)
			return ocr_wrap(err, "--forward-host");
		if (k >= NETWORK_MAX_PUBLISH)
			return ocr_fail(err, E2BIG, "--forward-host: at most %d", NETWORK_MAX_PUBLISH);
		n->forward_host = xrealloc(n->forward_host, (k + 2) * sizeof(char *));
		n->forward_host[k] = optarg;
		n->forward_host[k + 1] = NULL;
		return 0;
	}
	case OPT_ALLOW_HOST_LOOPBACK:
		n->allow_host_loopback = true;
		return 0;
	case OPT_MTU:
		if (network_parse_mtu(optarg, &mtu, err) < 0)
			return ocr_wrap(err, "--mtu");
		n->mtu = optarg;
		return 0;
	case OPT_PORT_HANDLER:
		if (network_parse_port_handler(optarg, &splice, err) < 0)
			return ocr_wrap(err, "--port-handler");
		n->port_handler = optarg;
		return 0;
	default:
		return ocr_fail(err, EINVAL, "bad option");
	}
}

/* Shared by create and run: they take the same flags (-d only for run). */
static int parse_create(const char *verb, int argc, char **argv, struct container_opts *o, bool *help,
			struct ocr_error *err)
{
	bool is_run = strcmp(verb, "run") == 0;
	int c;

	while ((c = cmd_getopt(argc, argv, is_run ? "b:dp:h" : "b:p:h", create_opts, verb, err)) != -1) {
		switch (c) {
		case 'b':
			o->bundle = optarg;
			break;
		case 'd':
			if (!is_run)
				return ocr_fail(err, EINVAL, "create: unknown option `--detach`");
			o->detach = true;
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_CONSOLE_SOCKET:
			o->console_socket = optarg;
			break;
		case OPT_NO_PIVOT:
			o->no_pivot = true;
			break;
		case OPT_NO_NEW_KEYRING:
			o->no_new_keyring = true;
			break;
		case OPT_PRESERVE_FDS:
			if (cmd_parse_int(optarg, "--preserve-fds", &o->preserve_fds, err) < 0)
				return -1;
			break;
		case OPT_LAYER: {
			/* repeatable, top first; the strings stay in argv */
			size_t n = strv_len(o->overlay.layers);
			o->overlay.layers = xrealloc(o->overlay.layers, (n + 2) * sizeof(char *));
			o->overlay.layers[n] = optarg;
			o->overlay.layers[n + 1] = NULL;
			break;
		}
		case OPT_UPPER:
			o->overlay.upper = optarg;
			break;
		case OPT_OVERLAY:
			o->overlay.mode = optarg;
			break;
		case OPT_NETWORK:
		case 'p':
		case OPT_ALLOW_HOST_LOOPBACK:
		case OPT_MTU:
		case OPT_PORT_HANDLER:
		case OPT_FORWARD_HOST:
			if (parse_net_flag(c, &o->net, err) < 0)
				return -1;
			break;
		case 'h':
			*help = true;
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, false, verb, err) < 0)
		return -1;
	o->id = argv[optind];
	return 0;
}

int cmd_create(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	struct container_opts o = {0};
	cleanup_free char **layers = NULL;
	cleanup_free char **publish = NULL;
	cleanup_free char **forward_host = NULL;
	bool help = false;
	int rc = parse_create("create", argc, argv, &o, &help, err);

	layers = o.overlay.layers;
	publish = o.net.publish;
	forward_host = o.net.forward_host;
	if (rc < 0)
		return -1;
	if (help) {
		cmd_print_help("create");
		return 0;
	}
	return container_create(ctx, &o, err) < 0 ? -1 : 0;
}

int cmd_run(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	struct container_opts o = {0};
	cleanup_free char **layers = NULL;
	bool help = false;
	cleanup_free char **publish = NULL;
	cleanup_free char **forward_host = NULL;
	int status;
	int rc = parse_create("run", argc, argv, &o, &help, err);

	layers = o.overlay.layers;
	publish = o.net.publish;
	forward_host = o.net.forward_host;
	if (rc < 0)
		return -1;
	if (help) {
		cmd_print_help("run");
		return 0;
	}
	if (container_run(ctx, &o, &status, err) < 0)
		return -1;
	return status;
}
