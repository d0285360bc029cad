#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "utils.h"

int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *verb,
	       struct ocr_error *err)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?') {
		if (optopt)
			ocr_fail(err, EINVAL, "%s: unknown or incomplete option `-%c` (see `ocirt-rootless %s --help`)",
				 verb, optopt, verb);
		else
			ocr_fail(err, EINVAL, "%s: unknown option `%s` (see `ocirt-rootless %s --help`)", verb,
				 argv[optind - 1], verb);
	} else if (c == ':') {
		ocr_fail(err, EINVAL, "%s: option `%s` needs a value", verb, argv[optind - 1]);
		c = '?';
	}
	return c;
}

int cmd_positional(int argc, char **argv, int n, bool more, const char *verb, struct ocr_error *err)
{
	int have = argc - optind;

	(void)argv;
	if (have < n || (!more && have > n))
		return ocr_fail(err, EINVAL, "%s: expected %s%d argument%s, got %d (see `ocirt-rootless %s --help`)",
				verb, more ? "at least " : "", n, n == 1 ? "" : "s", have, verb);
	return 0;
}

int cmd_parse_int(const char *s, const char *flag, int *ret, struct ocr_error *err)
{
	int64_t v;

	if (parse_i64(s, &v) < 0 || v < 0 || v > 1000000)
		return ocr_fail(err, EINVAL, "%s: `%s` is not a valid number", flag, s);
	*ret = (int)v;
	return 0;
}

int cmd_parse_id(const char *verb, int argc, char **argv, const char **ret_id, struct ocr_error *err)
{
	static const struct option help_only[] = {CMD_HELP_OPTION, {NULL, 0, NULL, 0}};
	int c;

	while ((c = cmd_getopt(argc, argv, "h", help_only, verb, err)) != -1) {
		if (c == 'h') {
			cmd_print_help(verb);
			return 1;
		}
		return -1;
	}
	if (cmd_positional(argc, argv, 1, false, verb, err) < 0)
		return -1;
	*ret_id = argv[optind];
	return 0;
}
