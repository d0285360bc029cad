#include <errno.h>

#include "cmd.h"
#include "container.h"
#include "specgen.h"

int cmd_spec(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"bundle", required_argument, NULL, 'b'},
		{"rootless", no_argument, NULL, 'r'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	const char *bundle = ".";
	bool rootless = false;
	int c;

	while ((c = cmd_getopt(argc, argv, "b:h", opts, "spec", err)) != -1) {
		switch (c) {
		case 'b':
			bundle = optarg;
			break;
		case 'r':
			rootless = true;
			break;
		case 'h':
			cmd_print_help("spec");
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 0, false, "spec", err) < 0)
		return -1;
	return specgen_write(ctx, bundle, rootless, err) < 0 ? -1 : 0;
}
