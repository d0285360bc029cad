/* One logging function for the whole runtime. It honours --log FILE,
 * --log-format text|json and --debug. Library code logs at debug or warns;
 * errors are returned, not logged (main prints them). */
#ifndef OCR_LOG_H
#define OCR_LOG_H

#include <stdbool.h>

enum ocr_log_level { OCR_LOG_DEBUG, OCR_LOG_INFO, OCR_LOG_WARN, OCR_LOG_ERROR };

struct ocr_log {
	int fd; /* --log file, or -1 */
	bool json; /* --log-format json */
	bool debug; /* --debug */
	bool to_stderr; /* warnings/errors also go to stderr */
};

void ocr_log_init(struct ocr_log *log);
int ocr_log_open(struct ocr_log *log, const char *path);
void ocr_log_close(struct ocr_log *log);

void ocr_logf(const struct ocr_log *log, enum ocr_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ocr_debug(log, ...) ocr_logf((log), OCR_LOG_DEBUG, __VA_ARGS__)
#define ocr_warn(log, ...) ocr_logf((log), OCR_LOG_WARN, __VA_ARGS__)

#endif
