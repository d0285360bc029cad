/* Verb entry points: each parses its own flags and calls the library.
 * Return the exit status (>= 0), or -1 with ERR filled. */
#ifndef OCR_CMD_H
#define OCR_CMD_H

#include <getopt.h>

#include "ctx.h"
#include "error.h"

typedef int (*cmd_fn)(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err);

struct cmd {
	const char *name;
	cmd_fn fn;
	const char *usage; /* "create [OPTIONS] ID" */
	const char *summary;
	const char *help; /* option lines */
};

/* Parse flags with getopt_long (permuting) and handle -h/--help. Returns
 * the getopt character, -1 at the end, or '?' on a bad flag (ERR filled).
 * Sets *HELP when --help was given. */
int cmd_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, const char *verb,
	       struct ocr_error *err);
/* Exactly N positional arguments remain (or at least N with MORE). */
int cmd_positional(int argc, char **argv, int n, bool more, const char *verb, struct ocr_error *err);
void cmd_print_help(const char *verb);
/* "VERB [-h] ID": 0 with *RET_ID set, 1 when help was printed, -1 on error. */
int cmd_parse_id(const char *verb, int argc, char **argv, const char **ret_id, struct ocr_error *err);
int cmd_parse_int(const char *s, const char *flag, int *ret, struct ocr_error *err);

#define CMD_HELP_OPTION                        \
	{                                      \
		"help", no_argument, NULL, 'h' \
	}

int cmd_spec(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_create(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_start(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_run(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_state(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_list(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_kill(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_exec(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_features(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_delete(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_doctor(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_pause(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_resume(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_update(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_events(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_ps(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_port(struct ocr_ctx *, int, char **, struct ocr_error *);
int cmd_bundle(struct ocr_ctx *, int, char **, struct ocr_error *);

#endif
