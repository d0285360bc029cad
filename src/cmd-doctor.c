/* doctor (also `check`): check the host for rootless containers, one line
 * per check; with --bundle DIR, the bundle's config.json too. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "doctor-bundle.h"
#include "doctor.h"
#include "utils.h"

static void print_text(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->f[i];
		printf("%-4s  %-18s %s%s%s\n", doctor_status_name(f->status), f->check, f->message,
		       f->fix[0] ? "; fix: " : "", f->fix);
	}
	printf("%zu ok, %zu warn, %zu fail\n", doctor_count(r, DOCTOR_OK), doctor_count(r, DOCTOR_WARN),
	       doctor_count(r, DOCTOR_FAIL));
}

static int print_json(const struct doctor_report *r, struct ocr_error *err)
{
	json_t *root = json_object(), *checks = json_array();
	char *s;

	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->f[i];
		json_t *o = json_object();
		json_object_set_new(o, "check", json_string(f->check));
		json_object_set_new(o, "status", json_string(doctor_status_name(f->status)));
		json_object_set_new(o, "message", json_string(f->message));
		if (f->fix[0])
			json_object_set_new(o, "fix", json_string(f->fix));
		json_array_append_new(checks, o);
	}
	json_object_set_new(root, "checks", checks);
	json_object_set_new(root, "ok", json_integer((json_int_t)doctor_count(r, DOCTOR_OK)));
	json_object_set_new(root, "warn", json_integer((json_int_t)doctor_count(r, DOCTOR_WARN)));
	json_object_set_new(root, "fail", json_integer((json_int_t)doctor_count(r, DOCTOR_FAIL)));
	s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (s == NULL)
		return ocr_fail(err, ENOMEM, "encode the report");
	printf("%s\n", s);
	free(s);
	return 0;
}

int cmd_doctor(struct ocr_ctx *ctx, int argc, char **argv, struct ocr_error *err)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"bundle", required_argument, NULL, 'b'},
		CMD_HELP_OPTION,
		{NULL, 0, NULL, 0},
	};
	struct doctor_report r = {0};
	const char *verb = argc > 0 && strcmp(argv[0], "check") == 0 ? "check" : "doctor";
	const char *bundle = NULL;
	bool json = false;
	int c, rc;

	while ((c = cmd_getopt(argc, argv, "f:b:h", opts, verb, err)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return ocr_fail(err, EINVAL, "%s: --format `%s` is not text or json", verb, optarg);
			json = strcmp(optarg, "json") == 0;
			break;
		case 'j':
			json = true;
			break;
		case 'b':
			bundle = optarg;
			break;
		case 'h':
			cmd_print_help(verb);
			return 0;
		default:
			return -1;
		}
	}
	if (cmd_positional(argc, argv, 0, false, verb, err) < 0)
		return -1;
	if (doctor_run(ctx, &r, err) < 0)
		return -1;
	if (bundle != NULL && doctor_bundle_run(ctx, bundle, &r, err) < 0) {
		doctor_report_clear(&r);
		return -1;
	}
	if (json)
		rc = print_json(&r, err);
	else
		rc = (print_text(&r), 0);
	if (rc == 0)
		rc = doctor_count(&r, DOCTOR_FAIL) > 0 ? 1 : 0;
	doctor_report_clear(&r);
	return rc;
}
