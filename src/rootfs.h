/* Assembling the container's root inside its mount namespace: mounts from
 * config.json, /dev, masked and read-only paths, pivot_root. */
#ifndef OCR_ROOTFS_H
#define OCR_ROOTFS_H

#include <stdbool.h>

#include "error.h"
#include "log.h"
#include "spec.h"

struct rootfs_ctx {
	const struct spec *spec;
	const char *rootfs; /* absolute host path */
	const struct ocr_log *log;
	bool own_netns; /* a network namespace of its own (sysfs allowed) */
	bool own_cgroupns;
	bool no_pivot;
	int rootfd; /* O_PATH of the bind-mounted rootfs, set by prepare */
	int devnull_fd; /* O_PATH of the host's verified /dev/null: prepare opens, protect closes */
};

/* Propagation of /, rootfs bind, every mount of the config, /dev. */
int rootfs_prepare(struct rootfs_ctx *rc, struct ocr_error *err);
/* maskedPaths, readonlyPaths, root.readonly (before pivot). */
int rootfs_protect(struct rootfs_ctx *rc, struct ocr_error *err);
/* pivot_root (or MS_MOVE + chroot with no_pivot) and rootfsPropagation. */
int rootfs_pivot(struct rootfs_ctx *rc, struct ocr_error *err);
/* linux.sysctl, written through /proc/sys before the root is protected and
 * pivoted: the writer's namespaces decide what a sysctl file refers to. */
int rootfs_sysctl(const struct spec *spec, bool own_netns, bool own_ipcns, bool own_utsns, struct ocr_error *err);

#endif
