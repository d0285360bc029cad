/* Mount primitives: option parsing and symlink-safe targets. Every path
 * inside the container root is resolved with openat2(RESOLVE_IN_ROOT) (or
 * the user-space walk of resolve.c where the kernel lacks it), and
 * mounts go onto /proc/self/fd/N of an O_PATH fd, so a symlink planted in
 * the rootfs can never redirect a mount to the host. */
#ifndef OCR_MOUNT_H
#define OCR_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* The type for mount(2) calls that have none (bind, remount, move,
 * propagation): the kernel ignores it there, but valgrind checks it as a
 * string and reports NULL as an unaddressable argument. */
#define MOUNT_TYPE_NONE "none"

struct mount_opts {
	unsigned long flags; /* MS_* to set */
	unsigned long clear; /* MS_* explicitly cleared ("rw", "suid") */
	unsigned long propagation; /* MS_SHARED|MS_SLAVE|... (| MS_REC) */
	bool bind, recursive;
	uint64_t attr_set, attr_clr; /* recursive attrs (rro, rnosuid...) */
	bool has_rattrs;
	uint64_t propagation_attr;
	char *data; /* the rest, comma-joined; malloc'd */
};

/* Parse a mounts[].options list; unknown options go to data. */
int mount_parse_options(char *const *opts, size_t n, struct mount_opts *ret, struct ocr_error *err);
void mount_opts_clear(struct mount_opts *o);

/* Open PATH (absolute, inside the root) as an O_PATH fd relative to
 * ROOTFD without leaving the root. With CREATE, missing components are
 * made as directories; the last one as a directory (IS_DIR) or an empty
 * file. */
int mount_open_in_root(int rootfd, const char *path, bool create, bool is_dir, struct ocr_error *err);

/* "/proc/self/fd/N" for FD. */
void mount_fd_path(int fd, char *buf, size_t len);

/* MS_* flags that the kernel locks on a mount made in an outer user
 * namespace and that a bind remount must therefore keep (from statvfs). */
unsigned long mount_locked_flags(const char *path);

/* The I-th option name this runtime understands, NULL past the end. */
const char *mount_option_name(size_t i);

#endif
