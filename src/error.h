/* Error objects: fallible functions return a negative value and fill one of
 * these; only main() prints it. Messages read outermost context first:
 * "create container `c1`: mount `/proc`: Operation not permitted". */
#ifndef OCR_ERROR_H
#define OCR_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define OCR_ERROR_MSG_MAX 2048

struct ocr_error {
	int err; /* errno value, 0 when not a system error */
	bool show_errno; /* append strerror(err) when printed */
	char msg[OCR_ERROR_MSG_MAX]; /* context, without the strerror part */
};

/* Fill ERR with ERRNUM and a complete message (ERRNUM classifies it for
 * callers but is not printed); always returns -1. */
int ocr_fail(struct ocr_error *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A failed system call: errno is kept and its text printed after the
 * message, as in `return ocr_fail_errno(err, "open `%s`", path);`. */
int ocr_fail_errno(struct ocr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context to an already filled error; returns -1. */
int ocr_wrap(struct ocr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The full one-line message: "msg: strerror(err)" or just "msg". */
void ocr_error_format(const struct ocr_error *err, char *buf, size_t len);

void ocr_error_clear(struct ocr_error *err);

#endif
