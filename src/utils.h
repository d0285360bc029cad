/* Small shared helpers: cleanup attributes, checked I/O, files. */
#ifndef OCR_UTILS_H
#define OCR_UTILS_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

#ifndef TEMP_FAILURE_RETRY
#define TEMP_FAILURE_RETRY(expr)                     \
	({                                           \
		long _r;                             \
		do                                   \
			_r = (long)(expr);           \
		while (_r == -1L && errno == EINTR); \
		_r;                                  \
	})
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
void cleanup_fclosep(FILE **f);
void cleanup_closedirp(DIR **d);
void cleanup_strvp(char ***v);
/* Kills (SIGKILL) and reaps a child that still belongs to the scope. */
void cleanup_pidp(pid_t *pid);

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir __attribute__((cleanup(cleanup_closedirp)))
#define cleanup_strv __attribute__((cleanup(cleanup_strvp)))
#define cleanup_pid __attribute__((cleanup(cleanup_pidp)))

/* Hand ownership out of a cleanup variable. */
#define steal_pointer(pp)                     \
	({                                    \
		__typeof__(*(pp)) _p = *(pp); \
		*(pp) = NULL;                 \
		_p;                           \
	})
#define steal_fd(fdp)             \
	({                        \
		int _fd = *(fdp); \
		*(fdp) = -1;      \
		_fd;              \
	})

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void strv_free(char **v);
size_t strv_len(char *const *v);

/* Full write/read loops that retry EINTR and short transfers. */
int write_all(int fd, const void *buf, size_t len);
ssize_t read_all(int fd, void *buf, size_t len);

/* Read a whole file (at most MAX bytes, else EFBIG) into a NUL-terminated
 * buffer; DIRFD may be AT_FDCWD. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len, struct ocr_error *err);
/* Write a file in place (no truncation of a longer one is needed for the
 * /proc files this is used with). */
int write_file_at(int dirfd, const char *path, const char *data, size_t len, struct ocr_error *err);
/* Write a file under /proc (PATH starts with "/proc/") only when it is
 * the kernel's: /proc must be the root of a proc file system and no other
 * mount may cover PATH or any directory on the way (EXDEV), so a symlink
 * or a mount planted in a container cannot redirect the write. Works
 * without openat2 too (resolve.h). */
int write_proc_file(const char *path, const char *data, size_t len, struct ocr_error *err);

/* One sendmsg() of DATA with FD attached (nothing attached when FD < 0),
 * without SIGPIPE. Returns what sendmsg() returns. */
ssize_t send_with_fd(int sock, int fd, const void *data, size_t len);
/* One recvmsg() into DATA; *RET_FD gets the fd that came with it
 * (close-on-exec), or -1. Any further fds are closed. A control message
 * the kernel truncated (the fd table is full) fails with EMFILE. Returns
 * what recvmsg() returns. */
ssize_t recv_with_fd(int sock, void *data, size_t len, int *ret_fd);
/* Write via a temporary file, fsync-free rename: readers see old or new. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, struct ocr_error *err);

/* mkdir -p with MODE for each created component. */
int mkdir_p(const char *path, mode_t mode, struct ocr_error *err);

/* Recursively remove a directory tree, not crossing mount points. */
int rm_rf_at(int dirfd, const char *name, struct ocr_error *err);

/* Parse a decimal or 0x number; returns -1 on junk or overflow. */
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);

/* Close every fd >= FIRST except the listed ones (set CLOEXEC instead when
 * CLOEXEC_ONLY). */
int close_fds_from(int first, bool cloexec_only);

/* RFC 3339 UTC timestamp with nanoseconds, as runc writes `created`. */
void format_timestamp(char *buf, size_t len);

/* Start time of a process (field 22 of /proc/PID/stat) and its state
 * letter; -1 with ESRCH when it does not exist. */
int proc_stat(pid_t pid, unsigned long long *ret_starttime, char *ret_state);

/* Default disposition for every signal and an empty mask, as a process
 * we start must see them. */
void reset_signals(void);

bool str_has_prefix(const char *s, const char *prefix);

/* PATH names a regular file we may execute. */
bool is_executable_file(const char *path);

/* NAME in the directories of PATH_ENV (absolute ones only), or when
 * PATH_ENV is unset or empty in /usr/local/bin, /usr/bin, /bin,
 * /usr/local/sbin, /usr/sbin, /sbin (as execvp(3) does): the first
 * executable regular file, into BUF ("" when there is none). */
bool find_program(const char *name, const char *path_env, char *buf, size_t len);

/* SRC for an error message or a log line: control characters, C1 controls
 * and bytes that are not UTF-8 become \n, \t or \xNN, so a value from a
 * config or a state file can neither break the message into several lines
 * nor send escape sequences to a terminal. Truncates at a character to fit
 * LEN (> 0) with its NUL. */
void str_escape(char *dst, size_t len, const char *src);

#endif
