#include "log.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "utils.h"

void ocr_log_init(struct ocr_log *log)
{
	log->fd = -1;
	log->json = false;
	log->debug = false;
	log->to_stderr = true;
}

int ocr_log_open(struct ocr_log *log, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (log->fd >= 0)
		close(log->fd);
	log->fd = fd;
	return 0;
}

void ocr_log_close(struct ocr_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

static const char *level_name(enum ocr_log_level level)
{
	switch (level) {
	case OCR_LOG_DEBUG:
		return "debug";
	case OCR_LOG_INFO:
		return "info";
	case OCR_LOG_WARN:
		return "warning";
	case OCR_LOG_ERROR:
		return "error";
	default:
		return "info";
	}
}

void ocr_logf(const struct ocr_log *log, enum ocr_log_level level, const char *fmt, ...)
{
	char msg[4096], ts[64], line[8192];
	va_list ap;
	int n;

	if (log == NULL || (level == OCR_LOG_DEBUG && !log->debug))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log->fd >= 0) {
		format_timestamp(ts, sizeof(ts));
		if (log->json) {
			json_t *o = json_pack("{s:s,s:s,s:s}", "level", level_name(level), "msg", msg, "time", ts);
			char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
			if (s) {
				n = snprintf(line, sizeof(line), "%s\n", s);
				free(s);
			} else {
				n = 0;
			}
			json_decref(o);
		} else {
			n = snprintf(line, sizeof(line), "%s %s: %s\n", ts, level_name(level), msg);
		}
		if (n > 0)
			(void)!write(log->fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	if (log->to_stderr && (log->fd < 0 || level >= OCR_LOG_WARN)) {
		n = snprintf(line, sizeof(line), "ocirt-rootless: %s%s\n",
			     level == OCR_LOG_WARN    ? "warning: "
			     : level == OCR_LOG_DEBUG ? "debug: "
						      : "",
			     msg);
		if (n > 0)
			(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}
