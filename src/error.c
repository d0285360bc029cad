#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 0))) static void vset(struct ocr_error *err, int errnum, const char *fmt, va_list ap)
{
	err->err = errnum;
	err->show_errno = false;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int ocr_fail(struct ocr_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int ocr_fail_errno(struct ocr_error *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, saved, fmt, ap);
	va_end(ap);
	err->show_errno = true;
	errno = saved;
	return -1;
}

int ocr_wrap(struct ocr_error *err, const char *fmt, ...)
{
	char prefix[OCR_ERROR_MSG_MAX];
	char old[OCR_ERROR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation keeps the outer context; the tail is the least useful. */
	if (old[0] == '\0')
		memcpy(err->msg, prefix, sizeof(err->msg));
	else if (snprintf(err->msg, sizeof(err->msg), "%.1000s: %.1000s", prefix, old) < 0)
		err->msg[0] = '\0';
	return -1;
}

void ocr_error_format(const struct ocr_error *err, char *buf, size_t len)
{
	if (err->show_errno && err->err != 0 && err->msg[0] != '\0')
		snprintf(buf, len, "%s: %s", err->msg, strerror(err->err));
	else if (err->err != 0 && err->msg[0] == '\0')
		snprintf(buf, len, "%s", strerror(err->err));
	else
		snprintf(buf, len, "%s", err->msg[0] ? err->msg : "unknown error");
}

void ocr_error_clear(struct ocr_error *err)
{
	err->err = 0;
	err->show_errno = false;
	err->msg[0] = '\0';
}
