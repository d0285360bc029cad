#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "rtfeatures.h"

int cmd_features(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {CMD_HELP_OPTION, {NULL, 0, NULL, 0}};
	char *json;
	int c;

	(void)ctx;
	while ((c = cmd_getopt(argc, argv, "h", opts, "features", err)) != -1) {
		if (c == 'h') {
			cmd_print_help("features");
			return 0;
		}
		return -1;
	}
	if (cmd_positional(argc, argv, 0, false, "features", err) < 0)
		return -1;
	json = features_json();
	if (json == NULL)
		return ocr_fail(err, 12, "features: out of memory");
	printf("%s\n", json);
	free(json);
	return 0;
}
