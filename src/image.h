/* OCI image layout → runnable bundle.
 *
 * image_bundle() reads LAYOUT/index.json, picks the manifest (by tag, and
 * for linux/<this architecture> through nested image indexes), verifies
 * the sha256 of every blob it uses, unpacks each layer once into a
 * content-addressed cache, CACHE/layers/sha256/<digest of the blob>/, and
 * writes BUNDLE/config.json: the rootless defaults plus the image's
 * Entrypoint/Cmd, Env, WorkingDir, User, StopSignal and Labels, and the
 * annotation run.oci.ocirt.layers listing the cached layers top first.
 *
 * Layers are unpacked with libarchive (gzip, zstd or plain tar), loaded
 * with dlopen("libarchive.so.13") when needed so that create and start do
 * not pay for it. Unpacking runs as root of a user namespace with the
 * rootless default mapping (container 0 = you, 1.. = your subordinate
 * ids), the mapping create gives the bundle, so a file owned by uid N in
 * the layer is owned by the host id that container uid N maps to. Every
 * entry is created relative to the layer directory with openat2
 * (RESOLVE_IN_ROOT): absolute names, `..` and hard links out of the layer
 * are refused, and a symlink in the layer can never lead a later entry
 * outside it. OCI whiteouts become the overlay's own format, which both
 * kernel overlayfs (userxattr) and fuse-overlayfs read: `.wh.NAME` → a
 * character device 0/0 named NAME (unprivileged since Linux 5.8), and
 * `.wh..wh..opq` → the xattr user.overlay.opaque=y on its directory. */
#ifndef OCR_IMAGE_H
#define OCR_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"

#define IMAGE_MAX_JSON (4u * 1024u * 1024u) /* index, manifest, config */
#define IMAGE_MAX_LAYERS 127
#define IMAGE_MAX_INDEX_DEPTH 4
#define IMAGE_OPAQUE_XATTR "user.overlay.opaque"

struct image_progress {
	size_t layer, n_layers; /* 1-based, bottom first */
	const char *digest; /* "sha256:..." */
	uint64_t done, total; /* compressed bytes read / blob size */
	bool cached; /* only verified, not unpacked */
	bool finished;
};

typedef void (*image_progress_fn)(void *arg, const struct image_progress *p);

struct image_bundle_opts {
	const char *image; /* OCI_LAYOUT[:TAG] */
	const char *cache; /* NULL: $XDG_CACHE_HOME/ocirt-rootless or ~/.cache/ocirt-rootless */
	const char *bundle; /* created if missing; must not hold a config.json */
	bool rootless; /* a config for an unprivileged user */
	image_progress_fn progress;
	void *progress_arg;
};

int image_bundle(const struct ocr_ctx *ctx, const struct image_bundle_opts *o, struct ocr_error *err);

/* The cache directory image_bundle uses for CACHE (NULL: the default);
 * malloc'd. */
char *image_cache_dir(const char *cache, struct ocr_error *err);

/* ---- parts exposed for the unit tests ---- */

struct image_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};
void image_sha256_init(struct image_sha256 *s);
void image_sha256_update(struct image_sha256 *s, const void *data, size_t len);
/* 64 lowercase hex digits and a NUL. */
void image_sha256_final(struct image_sha256 *s, char ret_hex[65]);

/* A tar member name, normalised ("./a//b/" → "a/b", "./" → ""); refuses
 * absolute names and any `..` component. RET holds at least LEN bytes. */
int image_clean_path(const char *name, char *ret, size_t len, struct ocr_error *err);

enum image_whiteout { IMAGE_WH_NONE, IMAGE_WH_FILE, IMAGE_WH_OPAQUE, IMAGE_WH_INVALID };
/* Classify a base name: ".wh..wh..opq", ".wh.NAME" (*RET_NAME = NAME), or
 * none; ".wh." alone, ".wh.." and ".wh..." are invalid, other ".wh..wh.*"
 * (aufs metadata) are INVALID too and skipped by the unpacker. */
enum image_whiteout image_whiteout_kind(const char *base, const char **ret_name);

/* "DIR[:TAG]": the part after the last ':' is a tag when it has no '/'
 * and DIR:TAG itself is not an existing path. */
int image_split_ref(const char *ref, char **ret_dir, char **ret_tag, struct ocr_error *err);

/* "sha256:<64 hex>" → the hex part, else NULL. */
const char *image_digest_hex(const char *digest);

/* The OCI architecture name of this machine ("amd64", "arm64", ...). */
const char *image_host_arch(void);

/* Image config "User": "", "UID", "UID:GID", or names resolved with the
 * PASSWD and GROUP file contents (either may be NULL). */
int image_parse_user(const char *user, const char *passwd, const char *group, uint32_t *ret_uid, uint32_t *ret_gid,
		     struct ocr_error *err);

#endif
