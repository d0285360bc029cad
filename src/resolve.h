/* Resolving a path inside a directory tree as if that directory were the
 * root: openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), with a user-space
 * walk of the same semantics for kernels without openat2 (< 5.6), seccomp
 * profiles that hide it, and valgrind, which does not know the syscall.
 *
 * Both functions behave like a system call: an fd, or -1 with errno set
 * (ENOENT, ENOTDIR, ELOOP for a magic link or too many symlinks, EAGAIN
 * when a concurrent rename kept the result from being verified). Callers
 * branch on errno (a missing path is created, a loop is named) and put the
 * failure into their struct ocr_error with the path they resolved. */
#ifndef OCR_RESOLVE_H
#define OCR_RESOLVE_H

/* Restrictions on top of RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, as the
 * openat2 flags of the same names (RESOLVE_OPTS of the functions below).
 * NO_XDEV: EXDEV when a component (the last one too, or `..` out of a
 * mount) is on another mount than ROOTFD. The walk tells mounts apart by
 * st_dev and the mount id (statx, Linux 5.8; before that
 * /proc/self/fdinfo, and st_dev alone when that cannot be read, so a bind
 * mount of the same file system goes unseen there).
 * NO_SYMLINKS: ELOOP when a symlink would be followed (a last component
 * opened with O_NOFOLLOW is not followed). */
#define RESOLVE_OPT_NO_XDEV 0x1u
#define RESOLVE_OPT_NO_SYMLINKS 0x2u

/* Open PATH (absolute or relative: both start at ROOTFD) below the
 * directory ROOTFD with the open FLAGS (O_PATH, O_DIRECTORY, O_NOFOLLOW,
 * O_RDONLY, ...; not O_CREAT or O_TMPFILE). O_CLOEXEC is always added.
 * openat2 first, the user-space walk when the kernel lacks it. */
int resolve_in_root(int rootfd, const char *path, int flags);
/* The same with RESOLVE_OPT_* restrictions. */
int resolve_in_root_opts(int rootfd, const char *path, int flags, unsigned int opts);

/* The user-space walk alone (what resolve_in_root falls back to; the unit
 * tests compare it with openat2). */
int resolve_in_root_fallback(int rootfd, const char *path, int flags);
int resolve_in_root_fallback_opts(int rootfd, const char *path, int flags, unsigned int opts);

#endif
