#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "image.h"

enum { OPT_IMAGE = 256, OPT_CACHE, OPT_ROOTLESS };

struct progress_line {
	struct timespec last;
	bool shown;
};

/* One line on a terminal, redrawn at most 10 times a second. */
static void show_progress(void *arg, const struct image_progress *p)
{
	struct progress_line *pl = arg;
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - pl->last.tv_sec) * 1e3 + (double)(now.tv_nsec - pl->last.tv_nsec) / 1e6;
	if (!p->finished && pl->shown && ms < 100)
		return;
	pl->last = now;
	pl->shown = true;
	fprintf(stderr, "\r\033[K%s layer %zu/%zu %.19s: %.1f/%.1f MiB%s", p->cached ? "verifying" : "unpacking",
		p->layer, p->n_layers, p->digest, (double)p->done / 1048576.0, (double)p->total / 1048576.0,
		p->finished ? "\n" : "");
	fflush(stderr);
}

int cmd_bundle(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"image", required_argument, NULL, OPT_IMAGE},
		{"cache", required_argument, NULL, OPT_CACHE},
		{"rootless", no_argument, NULL, OPT_ROOTLESS},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct image_bundle_opts o = {.rootless = ctx->euid != 0 || !ctx->initial_userns};
	struct progress_line pl = {0};
	int c;

	while ((c = cmd_getopt(argc, argv, "h", opts, "bundle", err)) != -1) {
		switch (c) {
		case OPT_IMAGE:
			o.image = optarg;
			break;
		case OPT_CACHE:
			o.cache = optarg;
			break;
		case OPT_ROOTLESS:
			o.rootless = true;
			break;
		case 'h':
			cmd_print_help("bundle");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 1, false, "bundle", err) < 0)
		return -1;
	if (o.image == NULL)
		return ocr_fail(err, EINVAL, "bundle: --image OCI_LAYOUT[:TAG] is required");
	o.bundle = argv[optind];
	if (isatty(STDERR_FILENO) && !ctx->log.debug) {
		o.progress = show_progress;
		o.progress_arg = &pl;
	}
	if (image_bundle(ctx, &o, err) < 0) {
		if (o.progress)
			fputs("\r\033[K", stderr); /* a half-drawn line */
		return -1;
	}
	return 0;
}
