/* Error objects: fallible functions return a negative value and fill one of
 * these; only main() prints it. Messages read outermost context first:
 * "create container `c1`: mount `/proc`: Operation not permitted". */
#ifndef OCR_ERROR_H
#define OCR_ERROR_H

#include <stddef.h>

#define OCR_ERROR_MSG_MAX 2048

struct ocr_error {
	int err;                      /* errno value, 0 when not a system error */
	char msg[OCR_ERROR_MSG_MAX];  /* context, without the strerror part */
};

/* Fill ERR with ERRNUM and a formatted message; always returns -1 so a
 * caller can write `return ocr_fail(err, errno, "open `%s`", path);`. */
int ocr_fail(struct ocr_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like ocr_fail() with errno as the error number. */
int ocr_fail_errno(struct ocr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prepend context to an already filled error; returns -1. */
int ocr_wrap(struct ocr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The full one-line message: "msg: strerror(err)" or just "msg". */
void ocr_error_format(const struct ocr_error *err, char *buf, size_t len);

void ocr_error_clear(struct ocr_error *err);

#endif
