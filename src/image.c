#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/xattr.h>

#include "log.h"
#include "overlay.h"
#include "resolve.h"
#include "spec.h"
#include "utils.h"

/* ------------------------------------------------------------------ sha256 */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
		       p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void image_sha256_init(struct image_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->fill = 0;
}

void image_sha256_update(struct image_sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->len += len;
	if (s->fill > 0) {
		size_t n = len < 64 - s->fill ? len : 64 - s->fill;
		memcpy(s->buf + s->fill, p, n);
		s->fill += n, p += n, len -= n;
		if (s->fill < 64)
			return;
		sha256_block(s->h, s->buf);
		s->fill = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha256_block(s->h, p);
	memcpy(s->buf, p, len);
	s->fill = len;
}

void image_sha256_final(struct image_sha256 *s, char ret_hex[65])
{
	uint64_t bits = s->len * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;

	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	image_sha256_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(ret_hex + 8 * i, 9, "%08x", s->h[i]);
}

/* ------------------------------------------------------------- small parts */

int image_clean_path(const char *name, char *ret, size_t len, struct ocr_error *err)
{
	size_t w = 0;
	const char *p = name;

	if (name[0] == '/')
		return ocr_fail(err, EPERM, "absolute path");
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return ocr_fail(err, EPERM, "`..` in the path");
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (w + (w > 0) + n + 1 > len)
				return ocr_fail(err, ENAMETOOLONG, "path too long");
			if (w > 0)
				ret[w++] = '/';
			memcpy(ret + w, p, n);
			w += n;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (len == 0)
		return ocr_fail(err, ENAMETOOLONG, "path too long");
	ret[w] = '\0';
	return 0;
}

enum image_whiteout image_whiteout_kind(const char *base, const char **ret_name)
{
	const char *rest;

	if (!str_has_prefix(base, ".wh."))
		return IMAGE_WH_NONE;
	if (strcmp(base, ".wh..wh..opq") == 0)
		return IMAGE_WH_OPAQUE;
	rest = base + 4;
	if (rest[0] == '\0' || strcmp(rest, ".") == 0 || strcmp(rest, "..") == 0 || str_has_prefix(rest, ".wh."))
		return IMAGE_WH_INVALID;
	if (ret_name)
		*ret_name = rest;
	return IMAGE_WH_FILE;
}

int image_split_ref(const char *ref, char **ret_dir, char **ret_tag, struct ocr_error *err)
{
	const char *colon = strrchr(ref, ':');

	*ret_dir = *ret_tag = NULL;
	if (ref[0] == '\0')
		return ocr_fail(err, EINVAL, "--image: empty");
	if (colon && colon != ref && colon[1] != '\0' && strchr(colon, '/') == NULL && access(ref, F_OK) != 0) {
		*ret_dir = xasprintf("%.*s", (int)(colon - ref), ref);
		*ret_tag = xstrdup(colon + 1);
	} else {
		*ret_dir = xstrdup(ref);
	}
	return 0;
}

const char *image_digest_hex(const char *digest)
{
	if (digest == NULL || !str_has_prefix(digest, "sha256:") || strlen(digest) != 7 + 64)
		return NULL;
	for (const char *p = digest + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return NULL;
	return digest + 7;
}

const char *image_host_arch(void)
{
	static const struct {
		const char *uname, *oci;
	} arches[] = {
		{"x86_64", "amd64"},	{"aarch64", "arm64"}, {"armv7l", "arm"},	  {"armv6l", "arm"},
		{"i686", "386"},	{"i386", "386"},      {"ppc64le", "ppc64le"},	  {"s390x", "s390x"},
		{"riscv64", "riscv64"}, {"mips64", "mips64"}, {"loongarch64", "loong64"},
	};
	struct utsname u;

	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
			if (strcmp(u.machine, arches[i].uname) == 0)
				return arches[i].oci;
	return "amd64";
}

static int parse_id(const char *s, uint32_t *ret)
{
	uint64_t v;

	if (s[0] < '0' || s[0] > '9' || parse_u64(s, &v) < 0 || v > UINT32_MAX - 1)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* Field FIELD (0-based) of the passwd/group line whose field KEY_FIELD is
 * KEY; NULL if absent. Returns a malloc'd string. */
static char *db_lookup(const char *db, size_t key_field, const char *key, size_t field)
{
	const char *line = db;

	while (db && *line) {
		size_t llen = strcspn(line, "\n");
		cleanup_free char *copy = xasprintf("%.*s", (int)llen, line);
		char *fields[8] = {0}, *q = copy;
		size_t n = 0;

		while (n < ARRAY_SIZE(fields)) {
			fields[n++] = q;
			q = strchr(q, ':');
			if (q == NULL)
				break;
			*q++ = '\0';
		}
		if (n > key_field && n > field && strcmp(fields[key_field], key) == 0)
			return xstrdup(fields[field]);
		line += llen + (line[llen] == '\n');
	}
	return NULL;
}

int image_parse_user(const char *user, const char *passwd, const char *group, uint32_t *ret_uid, uint32_t *ret_gid,
		     struct ocr_error *err)
{
	cleanup_free char *u = xstrdup(user ? user : "");
	char *g = strchr(u, ':');
	cleanup_free char *found = NULL;
	char uidstr[16];

	*ret_uid = *ret_gid = 0;
	if (g)
		*g++ = '\0';
	if (u[0] != '\0' && parse_id(u, ret_uid) < 0) {
		found = db_lookup(passwd, 0, u, 2);
		if (found == NULL || parse_id(found, ret_uid) < 0)
			return ocr_fail(err, ENOENT, "image config: User `%s`: no such user in the image's /etc/passwd",
					user);
	}
	if (g == NULL || g[0] == '\0') {
		/* the user's primary group, else 0 */
		free(found);
		snprintf(uidstr, sizeof(uidstr), "%u", *ret_uid);
		found = db_lookup(passwd, 2, uidstr, 3);
		if (found == NULL || parse_id(found, ret_gid) < 0)
			*ret_gid = 0;
		return 0;
	}
	if (parse_id(g, ret_gid) == 0)
		return 0;
	free(found);
	found = db_lookup(group, 0, g, 2);
	if (found == NULL || parse_id(found, ret_gid) < 0)
		return ocr_fail(err, ENOENT, "image config: User `%s`: no such group in the image's /etc/group", user);
	return 0;
}

char *image_cache_dir(const char *cache, struct ocr_error *err)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (cache)
		return xstrdup(cache);
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/ocirt-rootless", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.cache/ocirt-rootless", home);
	ocr_fail(err, ENOENT, "no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache");
	return NULL;
}

/* --------------------------------------------------------------- libarchive */

struct archive_api {
	void *handle;
	__typeof__(archive_read_new) *read_new;
	__typeof__(archive_read_support_filter_gzip) *filter_gzip;
	__typeof__(archive_read_support_filter_zstd) *filter_zstd;
	__typeof__(archive_read_support_format_tar) *format_tar;
	__typeof__(archive_read_open) *open;
	__typeof__(archive_read_next_header) *next_header;
	__typeof__(archive_read_data_block) *data_block;
	__typeof__(archive_read_free) *free;
	__typeof__(archive_error_string) *error_string;
	__typeof__(archive_entry_pathname) *pathname;
	__typeof__(archive_entry_filetype) *filetype;
	__typeof__(archive_entry_perm) *perm;
	__typeof__(archive_entry_uid) *uid;
	__typeof__(archive_entry_gid) *gid;
	__typeof__(archive_entry_symlink) *symlink;
	__typeof__(archive_entry_hardlink) *hardlink;
	__typeof__(archive_entry_mtime) *mtime;
	__typeof__(archive_entry_mtime_nsec) *mtime_nsec;
	__typeof__(archive_entry_size) *size;
	__typeof__(archive_entry_rdevmajor) *rdevmajor;
	__typeof__(archive_entry_rdevminor) *rdevminor;
	__typeof__(archive_entry_xattr_reset) *xattr_reset;
	__typeof__(archive_entry_xattr_next) *xattr_next;
};

#define ARCHIVE_SYM(field, name)                          \
	{                                                 \
		offsetof(struct archive_api, field), name \
	}

static int archive_load(struct archive_api *api, struct ocr_error *err)
{
	static const struct {
		size_t off;
		const char *name;
	} syms[] = {
		ARCHIVE_SYM(read_new, "archive_read_new"),
		ARCHIVE_SYM(filter_gzip, "archive_read_support_filter_gzip"),
		ARCHIVE_SYM(filter_zstd, "archive_read_support_filter_zstd"),
		ARCHIVE_SYM(format_tar, "archive_read_support_format_tar"),
		ARCHIVE_SYM(open, "archive_read_open"),
		ARCHIVE_SYM(next_header, "archive_read_next_header"),
		ARCHIVE_SYM(data_block, "archive_read_data_block"),
		ARCHIVE_SYM(free, "archive_read_free"),
		ARCHIVE_SYM(error_string, "archive_error_string"),
		ARCHIVE_SYM(pathname, "archive_entry_pathname"),
		ARCHIVE_SYM(filetype, "archive_entry_filetype"),
		ARCHIVE_SYM(perm, "archive_entry_perm"),
		ARCHIVE_SYM(uid, "archive_entry_uid"),
		ARCHIVE_SYM(gid, "archive_entry_gid"),
		ARCHIVE_SYM(symlink, "archive_entry_symlink"),
		ARCHIVE_SYM(hardlink, "archive_entry_hardlink"),
		ARCHIVE_SYM(mtime, "archive_entry_mtime"),
		ARCHIVE_SYM(mtime_nsec, "archive_entry_mtime_nsec"),
		ARCHIVE_SYM(size, "archive_entry_size"),
		ARCHIVE_SYM(rdevmajor, "archive_entry_rdevmajor"),
		ARCHIVE_SYM(rdevminor, "archive_entry_rdevminor"),
		ARCHIVE_SYM(xattr_reset, "archive_entry_xattr_reset"),
		ARCHIVE_SYM(xattr_next, "archive_entry_xattr_next"),
	};

	api->handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	if (api->handle == NULL)
		return ocr_fail(err, ENOENT,
				"unpacking layers needs libarchive.so.13 "
				"(Debian: apt install libarchive13): %s",
				dlerror());
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		void *sym = dlsym(api->handle, syms[i].name);
		if (sym == NULL)
			return ocr_fail(err, ENOENT, "libarchive.so.13 has no %s", syms[i].name);
		memcpy((char *)api + syms[i].off, &sym, sizeof(sym));
	}
	return 0;
}

/* ------------------------------------------------------------------ blobs */

struct layout {
	char *dir;
	int fd; /* O_PATH of the layout */
};

/* Open blobs/sha256/HEX of the layout: a regular file, nothing else. */
static int blob_open(const struct layout *l, const char *digest, struct ocr_error *err)
{
	const char *hex = image_digest_hex(digest);
	cleanup_free char *path = NULL;
	struct stat st;
	int fd;

	if (hex == NULL)
		return ocr_fail(err, EINVAL, "descriptor digest `%s`: not sha256:<64 hex digits>",
				digest ? digest : "(none)");
	path = xasprintf("blobs/sha256/%s", hex);
	/* HEX is only hex digits: the path has no `..` to leave the layout
	 * by, and no symlink in it is followed. */
	fd = resolve_in_root_opts(l->fd, path, O_RDONLY | O_NOFOLLOW, RESOLVE_OPT_NO_SYMLINKS);
	if (fd < 0)
		return ocr_fail_errno(err, "blob %s: `%s/%s`", digest, l->dir, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ocr_fail(err, EINVAL, "blob %s: not a regular file", digest);
	}
	return fd;
}

static int digest_mismatch(const char *digest, const char *what, const char *got, struct ocr_error *err)
{
	return ocr_fail(err, EBADMSG,
			"blob %s (%s): content hashes to sha256:%s: the image is corrupt or was "
			"tampered with",
			digest, what, got);
}

/* Hash FD to its end; with SIZE >= 0 it must be exactly SIZE bytes. */
static int blob_verify_fd(int fd, const char *digest, int64_t size, const char *what, image_progress_fn progress,
			  void *parg, struct image_progress *pr, struct ocr_error *err)
{
	cleanup_free char *buf = xmalloc(1 << 17);
	struct image_sha256 s;
	char hex[65];
	uint64_t total = 0;
	ssize_t n;

	image_sha256_init(&s);
	while ((n = TEMP_FAILURE_RETRY(read(fd, buf, 1 << 17))) > 0) {
		image_sha256_update(&s, buf, (size_t)n);
		total += (uint64_t)n;
		if (progress && pr) {
			pr->done = total;
			progress(parg, pr);
		}
	}
	if (n < 0)
		return ocr_fail_errno(err, "read blob %s", digest);
	image_sha256_final(&s, hex);
	if (strcmp(hex, image_digest_hex(digest)) != 0)
		return digest_mismatch(digest, what, hex, err);
	if (size >= 0 && total != (uint64_t)size)
		return ocr_fail(err, EBADMSG, "blob %s (%s): %llu bytes, the descriptor says %lld", digest, what,
				(unsigned long long)total, (long long)size);
	return 0;
}

static int64_t desc_size(json_t *desc)
{
	json_t *s = json_object_get(desc, "size");
	return json_is_integer(s) && json_integer_value(s) >= 0 ? (int64_t)json_integer_value(s) : -1;
}

/* Read, verify and parse a JSON blob named by descriptor DESC. */
static int blob_json(const struct layout *l, json_t *desc, const char *what, json_t **ret, struct ocr_error *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	int64_t size = desc_size(desc);
	cleanup_close int fd = blob_open(l, digest, err);
	cleanup_free char *data = NULL;
	struct image_sha256 s;
	char hex[65];
	json_error_t jerr;
	size_t len;
	ssize_t n;

	if (fd < 0)
		return ocr_wrap(err, "%s", what);
	if (size > (int64_t)IMAGE_MAX_JSON)
		return ocr_fail(err, EFBIG, "%s %s: larger than %u MiB", what, digest, IMAGE_MAX_JSON >> 20);
	data = xmalloc(IMAGE_MAX_JSON + 1);
	n = read_all(fd, data, IMAGE_MAX_JSON + 1);
	if (n < 0)
		return ocr_fail_errno(err, "read %s %s", what, digest);
	if ((size_t)n > IMAGE_MAX_JSON)
		return ocr_fail(err, EFBIG, "%s %s: larger than %u MiB", what, digest, IMAGE_MAX_JSON >> 20);
	len = (size_t)n;
	data[len] = '\0';
	image_sha256_init(&s);
	image_sha256_update(&s, data, len);
	image_sha256_final(&s, hex);
	if (strcmp(hex, image_digest_hex(digest)) != 0)
		return digest_mismatch(digest, what, hex, err);
	if (size >= 0 && (uint64_t)size != len)
		return ocr_fail(err, EBADMSG, "blob %s (%s): %zu bytes, the descriptor says %lld", digest, what, len,
				(long long)size);
	*ret = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*ret == NULL || !json_is_object(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		return ocr_fail(err, EINVAL, "%s %s: not a JSON object (line %d: %s)", what, digest, jerr.line,
				jerr.text);
	}
	return 0;
}

/* ---------------------------------------------------- manifest selection */

static bool is_index_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.index.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

static bool is_manifest_type(const char *mt)
{
	return mt && (strcmp(mt, "application/vnd.oci.image.manifest.v1+json") == 0 ||
		      strcmp(mt, "application/vnd.docker.distribution.manifest.v2+json") == 0);
}

static const char *ref_name(json_t *desc)
{
	return json_string_value(
		json_object_get(json_object_get(desc, "annotations"), "org.opencontainers.image.ref.name"));
}

/* The entry of MANIFESTS for linux/<host arch>, else the first without a
 * platform; NULL with ERR naming what there is. */
static json_t *select_platform(json_t *manifests, const char *where, struct ocr_error *err)
{
	const char *arch = image_host_arch();
	json_t *generic = NULL, *m;
	size_t i, len = 0;
	char found[512] = "";

	json_array_foreach (manifests, i, m) {
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *a = json_string_value(json_object_get(p, "architecture"));
		if (!json_is_object(p)) {
			if (generic == NULL)
				generic = m;
			continue;
		}
		if (os && a && strcmp(os, "linux") == 0 && strcmp(a, arch) == 0)
			return m;
		if (len < sizeof(found))
			len += (size_t)snprintf(found + len, sizeof(found) - len, "%s%s/%s", len ? ", " : "",
						os ? os : "?", a ? a : "?");
	}
	if (generic)
		return generic;
	ocr_fail(err, ENOENT, "%s: no image for linux/%s (found: %s)", where, arch, found[0] ? found : "nothing");
	return NULL;
}

/* The top-level descriptor: by TAG, or the only image of the layout. */
static json_t *select_top(json_t *index, const char *tag, const char *dir, struct ocr_error *err)
{
	json_t *manifests = json_object_get(index, "manifests");
	json_auto_t *cands = json_array();
	char tags[512] = "";
	size_t i, len = 0;
	const char *first = NULL;
	bool several = false;
	json_t *m;

	if (!json_is_array(manifests) || json_array_size(manifests) == 0) {
		ocr_fail(err, EINVAL, "`%s/index.json`: no manifests", dir);
		return NULL;
	}
	json_array_foreach (manifests, i, m) {
		const char *name = ref_name(m);
		if (name && len < sizeof(tags) && strstr(tags, name) == NULL)
			len += (size_t)snprintf(tags + len, sizeof(tags) - len, "%s%s", len ? ", " : "", name);
		if (tag && (name == NULL || strcmp(name, tag) != 0))
			continue;
		if (!tag && name) {
			if (first && strcmp(first, name) != 0)
				several = true;
			first = first ? first : name;
		}
		json_array_append(cands, m);
	}
	if (tag && json_array_size(cands) == 0) {
		ocr_fail(err, ENOENT, "`%s`: no image tagged `%s` (tags: %s)", dir, tag, tags[0] ? tags : "none");
		return NULL;
	}
	if (several) {
		ocr_fail(err, EINVAL, "`%s` holds several images: name one as %s:TAG (tags: %s)", dir, dir, tags);
		return NULL;
	}
	m = select_platform(cands, dir, err);
	return m ? json_incref(m) : NULL;
}

/* Follow DESC through image indexes to a manifest. */
static int resolve_manifest(const struct layout *l, json_t *desc, int depth, json_t **ret, struct ocr_error *err)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_auto_t *blob = NULL;
	const char *inner;
	json_t *next;

	if (depth > IMAGE_MAX_INDEX_DEPTH)
		return ocr_fail(err, ELOOP, "image indexes nested deeper than %d", IMAGE_MAX_INDEX_DEPTH);
	if (mt && !is_index_type(mt) && !is_manifest_type(mt))
		return ocr_fail(err, ENOTSUP, "descriptor %s: unsupported media type `%s`", digest ? digest : "?", mt);
	if (blob_json(l, desc, is_index_type(mt) ? "image index" : "manifest", &blob, err) < 0)
		return -1;
	inner = json_string_value(json_object_get(blob, "mediaType"));
	if (is_index_type(mt) || is_index_type(inner) || (!mt && json_is_array(json_object_get(blob, "manifests")))) {
		next = select_platform(json_object_get(blob, "manifests"), digest, err);
		if (next == NULL)
			return -1;
		return resolve_manifest(l, next, depth + 1, ret, err);
	}
	*ret = steal_pointer(&blob);
	return 0;
}

/* --------------------------------------------------------------- unpacking */

struct layer {
	const char *digest; /* in the manifest json */
	const char *hex;
	int64_t size;
	int blobfd;
	bool cached;
	char *dir; /* CACHE/layers/sha256/HEX */
};

struct dirtime {
	char *path;
	struct timespec ts[2];
};

struct unpack {
	const struct ocr_ctx *ctx;
	struct archive_api api;
	int cachefd; /* CACHE/layers/sha256 */
	struct layer *layers;
	size_t n_layers;
	bool single_id; /* chown to other ids cannot work: skip it */
	image_progress_fn progress;
	void *progress_arg;
	/* the layer being unpacked */
	struct layer *cur;
	size_t cur_index;
	int rootfd;
	struct image_sha256 sha;
	uint64_t bytes;
	int read_errno;
	struct dirtime *dirs;
	size_t n_dirs, cap_dirs;
	size_t skipped_devices, skipped_chown;
	char buf[1 << 17];
};

#define UNPACK_MAX_DIRTIMES (1u << 20)

static int open_in_layer(int rootfd, const char *path, int flags)
{
	return resolve_in_root_opts(rootfd, path[0] ? path : ".", flags, RESOLVE_OPT_NO_XDEV);
}

/* The directory PARENT of the layer, made (0755) where missing. */
static int open_parent(struct unpack *u, const char *parent, struct ocr_error *err)
{
	char prefix[PATH_MAX];
	int fd = open_in_layer(u->rootfd, parent, O_RDONLY | O_DIRECTORY);
	const char *p = parent;

	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : ocr_fail_errno(err, "parent `%s`", parent);
	/* Walk down, each prefix resolved from the layer's root. */
	while (*p) {
		size_t n = (size_t)(p - parent) + strcspn(p, "/");
		cleanup_close int pfd = -1;
		const char *base;

		snprintf(prefix, sizeof(prefix), "%.*s", (int)n, parent);
		p = parent + n + (parent[n] == '/');
		fd = open_in_layer(u->rootfd, prefix, O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			if (*p)
				close(fd);
			continue;
		}
		if (errno != ENOENT)
			return ocr_fail_errno(err, "parent `%s`", prefix);
		base = strrchr(prefix, '/');
		if (base) {
			prefix[base - prefix] = '\0';
			pfd = open_in_layer(u->rootfd, prefix, O_RDONLY | O_DIRECTORY);
			prefix[base - prefix] = '/';
			base++;
		} else {
			pfd = open_in_layer(u->rootfd, "", O_RDONLY | O_DIRECTORY);
			base = prefix;
		}
		if (pfd < 0 || (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST))
			return ocr_fail_errno(err, "make parent `%s`", prefix);
		fd = open_in_layer(u->rootfd, prefix, O_RDONLY | O_DIRECTORY);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			return ocr_fail(err, EPERM,
					"refused: `%s` does not lead to a directory inside the layer "
					"(a symlink out of it?)",
					prefix);
		if (fd < 0)
			return ocr_fail_errno(err, "parent `%s`", prefix);
		if (*p)
			close(fd);
	}
	return fd;
}

/* Make room for a new entry NAME: remove what is there, unless both are
 * directories (KEEP_DIR). */
static int clear_name(int dirfd, const char *name, bool keep_dir, struct ocr_error *err)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ocr_fail_errno(err, "stat `%s`", name);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		return overlay_remove_tree(dirfd, name, err);
	}
	if (unlinkat(dirfd, name, 0) < 0)
		return ocr_fail_errno(err, "replace `%s`", name);
	return 0;
}

static int set_owner(struct unpack *u, int dirfd, const char *name, int fd, struct archive_entry *e,
		     struct ocr_error *err)
{
	uint32_t uid = (uint32_t)u->api.uid(e), gid = (uint32_t)u->api.gid(e);
	int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);

	if (r == 0)
		return 0;
	if (errno == EINVAL && u->single_id) {
		u->skipped_chown++;
		return 0;
	}
	if (errno == EINVAL)
		return ocr_fail(err, EINVAL,
				"owned by %u:%u, outside the ids mapped for you (your ranges in "
				"/etc/subuid and /etc/subgid are too small)",
				uid, gid);
	return ocr_fail_errno(err, "chown");
}

static void apply_xattrs(struct unpack *u, int fd, struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t size;

	u->api.xattr_reset(e);
	while (u->api.xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		/* overlay metadata comes only from OCI whiteouts */
		if (!(str_has_prefix(name, "user.") || strcmp(name, "security.capability") == 0) ||
		    str_has_prefix(name, "user.overlay.") || str_has_prefix(name, "user.fuseoverlayfs."))
			continue;
		if (fsetxattr(fd, name, value, size, 0) < 0)
			ocr_debug(&u->ctx->log, "layer %s: xattr %s not kept: %s", u->cur->digest, name,
				  strerror(errno));
	}
}

static int write_data(struct unpack *u, struct archive *a, int fd, int64_t size, struct ocr_error *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = u->api.data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (len > 0) {
			ssize_t w = TEMP_FAILURE_RETRY(pwrite(fd, p, len, off));
			if (w < 0)
				return ocr_fail_errno(err, "write");
			p += w, len -= (size_t)w, off += w;
		}
	}
	if (r != ARCHIVE_EOF)
		return ocr_fail(err, EIO, "read: %s", u->api.error_string(a));
	if (size >= 0 && ftruncate(fd, size) < 0) /* a trailing hole */
		return ocr_fail_errno(err, "truncate");
	return 0;
}

static int make_regular(struct unpack *u, struct archive *a, struct archive_entry *e, int pfd, const char *base,
			struct ocr_error *err)
{
	cleanup_close int fd = -1;
	struct timespec ts[2] = {{u->api.mtime(e), u->api.mtime_nsec(e)}, {u->api.mtime(e), u->api.mtime_nsec(e)}};

	if (clear_name(pfd, base, false, err) < 0)
		return -1;
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ocr_fail_errno(err, "create");
	if (write_data(u, a, fd, u->api.size(e), err) < 0 || set_owner(u, pfd, base, fd, e, err) < 0)
		return -1;
	if (fchmod(fd, u->api.perm(e) & 07777) < 0)
		return ocr_fail_errno(err, "chmod");
	apply_xattrs(u, fd, e);
	if (futimens(fd, ts) < 0)
		return ocr_fail_errno(err, "set times");
	return 0;
}

static int make_dir(struct unpack *u, struct archive_entry *e, int pfd, const char *base, const char *path,
		    struct ocr_error *err)
{
	cleanup_close int fd = -1;
	int r = base[0] ? clear_name(pfd, base, true, err) : 1;

	if (r < 0)
		return -1;
	if (r == 0 && mkdirat(pfd, base, 0700) < 0)
		return ocr_fail_errno(err, "mkdir");
	fd = base[0] ? openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : dup(pfd);
	if (fd < 0)
		return ocr_fail_errno(err, "open");
	if (set_owner(u, -1, NULL, fd, e, err) < 0)
		return -1;
	if (fchmod(fd, u->api.perm(e) & 07777) < 0)
		return ocr_fail_errno(err, "chmod");
	apply_xattrs(u, fd, e);
	/* Later entries change a directory's mtime: set it at the end. */
	if (u->n_dirs < UNPACK_MAX_DIRTIMES) {
		if (u->n_dirs == u->cap_dirs) {
			u->cap_dirs = u->cap_dirs ? u->cap_dirs * 2 : 256;
			u->dirs = xrealloc(u->dirs, u->cap_dirs * sizeof(*u->dirs));
		}
		u->dirs[u->n_dirs].path = xstrdup(path);
		u->dirs[u->n_dirs].ts[0] = u->dirs[u->n_dirs].ts[1] =
			(struct timespec){u->api.mtime(e), u->api.mtime_nsec(e)};
		u->n_dirs++;
	}
	return 0;
}

static int make_symlink(struct unpack *u, struct archive_entry *e, int pfd, const char *base, struct ocr_error *err)
{
	const char *target = u->api.symlink(e);
	struct timespec ts[2] = {{u->api.mtime(e), u->api.mtime_nsec(e)}, {u->api.mtime(e), u->api.mtime_nsec(e)}};

	if (target == NULL || target[0] == '\0')
		return ocr_fail(err, EINVAL, "symlink without a target");
	if (clear_name(pfd, base, false, err) < 0)
		return -1;
	/* Its target is never followed here: later entries resolve in the
	 * layer's root. */
	if (symlinkat(target, pfd, base) < 0)
		return ocr_fail_errno(err, "symlink");
	if (set_owner(u, pfd, base, -1, e, err) < 0)
		return -1;
	(void)utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int make_hardlink(struct unpack *u, struct archive_entry *e, int pfd, const char *base, struct ocr_error *err)
{
	char target[PATH_MAX];
	cleanup_close int tfd = -1;
	const char *tbase;
	struct ocr_error perr = {0};

	if (image_clean_path(u->api.hardlink(e), target, sizeof(target), &perr) < 0)
		return ocr_fail(err, EPERM, "refused: hard link to `%s` out of the layer (%s)", u->api.hardlink(e),
				perr.msg);
	tbase = strrchr(target, '/');
	if (tbase) {
		target[tbase - target] = '\0';
		tfd = open_in_layer(u->rootfd, target, O_PATH | O_DIRECTORY);
		tbase++;
	} else {
		tfd = open_in_layer(u->rootfd, "", O_PATH | O_DIRECTORY);
		tbase = target;
	}
	if (tfd < 0 || tbase[0] == '\0')
		return ocr_fail(err, ENOENT, "hard link to `%s`: not in the layer", u->api.hardlink(e));
	if (clear_name(pfd, base, false, err) < 0)
		return -1;
	if (linkat(tfd, tbase, pfd, base, 0) < 0)
		return ocr_fail_errno(err, "hard link to `%s`", u->api.hardlink(e));
	return 0;
}

static int make_special(struct unpack *u, struct archive_entry *e, int pfd, const char *base, mode_t type,
			struct ocr_error *err)
{
	dev_t dev = makedev(u->api.rdevmajor(e), u->api.rdevminor(e));

	if (clear_name(pfd, base, false, err) < 0)
		return -1;
	if (mknodat(pfd, base, type | (u->api.perm(e) & 07777), type == S_IFIFO ? 0 : dev) < 0) {
		if (errno != EPERM)
			return ocr_fail_errno(err, "mknod");
		/* devices cannot be made in a user namespace: /dev is a tmpfs */
		u->skipped_devices++;
		return 0;
	}
	return set_owner(u, pfd, base, -1, e, err);
}

static int make_whiteout(struct unpack *u, int pfd, const char *base, const char *name, struct ocr_error *err)
{
	(void)u;
	if (clear_name(pfd, name, false, err) < 0)
		return -1;
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
		return ocr_fail_errno(err, "whiteout `%s`: character device 0/0 (needs Linux 5.8 or newer)", base);
	return 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e, struct ocr_error *err)
{
	char path[PATH_MAX], parent[PATH_MAX];
	cleanup_close int pfd = -1;
	const char *base, *wh_name = NULL;
	struct ocr_error perr = {0};
	unsigned type = u->api.filetype(e);

	if (image_clean_path(u->api.pathname(e), path, sizeof(path), &perr) < 0)
		return ocr_fail(err, EPERM, "refused: %s", perr.msg);
	base = strrchr(path, '/');
	snprintf(parent, sizeof(parent), "%.*s", base ? (int)(base - path) : 0, path);
	base = base ? base + 1 : path;
	pfd = open_parent(u, parent, err);
	if (pfd < 0)
		return -1;
	switch (image_whiteout_kind(base, &wh_name)) {
	case IMAGE_WH_OPAQUE:
		if (fsetxattr(pfd, IMAGE_OPAQUE_XATTR, "y", 1, 0) < 0)
			return ocr_fail_errno(err, "opaque directory: set %s", IMAGE_OPAQUE_XATTR);
		return 0;
	case IMAGE_WH_FILE:
		return make_whiteout(u, pfd, base, wh_name, err);
	case IMAGE_WH_INVALID:
		ocr_debug(&u->ctx->log, "layer %s: skipped `%s`", u->cur->digest, path);
		return 0;
	case IMAGE_WH_NONE:
	default:
		break;
	}
	if (u->api.hardlink(e) != NULL)
		return make_hardlink(u, e, pfd, base, err);
	switch (type) {
	case AE_IFREG:
		return make_regular(u, a, e, pfd, base, err);
	case AE_IFDIR:
		return make_dir(u, e, pfd, base, path, err);
	case AE_IFLNK:
		return make_symlink(u, e, pfd, base, err);
	case AE_IFCHR:
		return make_special(u, e, pfd, base, S_IFCHR, err);
	case AE_IFBLK:
		return make_special(u, e, pfd, base, S_IFBLK, err);
	case AE_IFIFO:
		return make_special(u, e, pfd, base, S_IFIFO, err);
	default:
		ocr_debug(&u->ctx->log, "layer %s: skipped `%s` (file type %#o)", u->cur->digest, path, type);
		return 0;
	}
}

static la_ssize_t blob_read(struct archive *a, void *arg, const void **ret)
{
	struct unpack *u = arg;
	ssize_t n = TEMP_FAILURE_RETRY(read(u->cur->blobfd, u->buf, sizeof(u->buf)));

	(void)a;
	if (n < 0) {
		u->read_errno = errno;
		return -1;
	}
	image_sha256_update(&u->sha, u->buf, (size_t)n);
	u->bytes += (uint64_t)n;
	if (u->progress) {
		struct image_progress p = {.layer = u->cur_index + 1,
					   .n_layers = u->n_layers,
					   .digest = u->cur->digest,
					   .done = u->bytes,
					   .total = u->cur->size > 0 ? (uint64_t)u->cur->size : 0};
		u->progress(u->progress_arg, &p);
	}
	*ret = u->buf;
	return n;
}

static int unpack_archive(struct unpack *u, struct ocr_error *err)
{
	struct archive *a = u->api.read_new();
	struct archive_entry *e;
	int r, rc = 0;

	if (a == NULL)
		return ocr_fail(err, ENOMEM, "libarchive");
	/* gzip and zstd (libarchive falls back to the zstd program when it
	 * was built without libzstd); plain tar needs no filter. */
	u->api.filter_gzip(a);
	u->api.filter_zstd(a);
	u->api.format_tar(a);
	if (u->api.open(a, u, NULL, blob_read, NULL) != ARCHIVE_OK) {
		rc = ocr_fail(err, EIO, "not a tar archive: %s", u->api.error_string(a));
		goto out;
	}
	while ((r = u->api.next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			rc = u->read_errno ? (errno = u->read_errno, ocr_fail_errno(err, "read"))
					   : ocr_fail(err, EIO, "%s", u->api.error_string(a));
			goto out;
		}
		if (unpack_entry(u, a, e, err) < 0) {
			rc = ocr_wrap(err, "entry `%s`", u->api.pathname(e));
			goto out;
		}
	}
out:
	u->api.free(a);
	return rc;
}

static void apply_dirtimes(struct unpack *u)
{
	for (size_t i = u->n_dirs; i-- > 0;) {
		int fd = open_in_layer(u->rootfd, u->dirs[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd >= 0) {
			(void)futimens(fd, u->dirs[i].ts);
			close(fd);
		}
		free(u->dirs[i].path);
	}
	u->n_dirs = 0;
}

/* Unpack one layer into .tmp-HEX, verify the blob, rename into place. */
static int unpack_layer(struct unpack *u, size_t index, struct ocr_error *err)
{
	struct layer *l = &u->layers[index];
	cleanup_free char *tmp = xasprintf(".tmp-%s-%d", l->hex, (int)getpid());
	char hex[65], drain[8192];
	ssize_t n;
	int rc;

	u->cur = l;
	u->cur_index = index;
	u->bytes = 0;
	u->read_errno = 0;
	u->skipped_chown = u->skipped_devices = 0;
	image_sha256_init(&u->sha);
	if (lseek(l->blobfd, 0, SEEK_SET) < 0)
		return ocr_fail_errno(err, "blob %s", l->digest);
	if (overlay_remove_tree(u->cachefd, tmp, err) < 0)
		return -1;
	if (mkdirat(u->cachefd, tmp, 0755) < 0)
		return ocr_fail_errno(err, "make `%s`", tmp);
	u->rootfd = openat(u->cachefd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u->rootfd < 0)
		return ocr_fail_errno(err, "open `%s`", tmp);
	rc = unpack_archive(u, err);
	apply_dirtimes(u);
	/* The hash covers the whole blob, also what follows the tar's end. */
	while (rc == 0 && (n = TEMP_FAILURE_RETRY(read(l->blobfd, drain, sizeof(drain)))) != 0) {
		if (n < 0) {
			rc = ocr_fail_errno(err, "read blob %s", l->digest);
			break;
		}
		image_sha256_update(&u->sha, drain, (size_t)n);
		u->bytes += (uint64_t)n;
	}
	close(u->rootfd);
	u->rootfd = -1;
	image_sha256_final(&u->sha, hex);
	if (strcmp(hex, l->hex) != 0) {
		struct ocr_error first = *err;
		digest_mismatch(l->digest, "layer", hex, err);
		if (rc < 0) /* a corrupt blob fails unpacking too: say why */
			ocr_debug(&u->ctx->log, "layer %s: %s", l->digest, first.msg);
		rc = -1;
	} else if (rc == 0 && l->size >= 0 && u->bytes != (uint64_t)l->size) {
		rc = ocr_fail(err, EBADMSG, "blob %s (layer): %llu bytes, the descriptor says %lld", l->digest,
			      (unsigned long long)u->bytes, (long long)l->size);
	}
	if (rc == 0 && renameat(u->cachefd, tmp, u->cachefd, l->hex) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			rc = ocr_fail_errno(err, "cache layer %s", l->digest);
	}
	if (rc < 0 || faccessat(u->cachefd, tmp, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		struct ocr_error ignored;
		overlay_remove_tree(u->cachefd, tmp, &ignored);
	}
	if (rc < 0)
		return ocr_wrap(err, "layer %zu of %zu", index + 1, u->n_layers);
	if (u->skipped_chown)
		ocr_debug(&u->ctx->log, "layer %s: %zu entries kept your own id (single-id mapping)", l->digest,
			  u->skipped_chown);
	if (u->skipped_devices)
		ocr_debug(&u->ctx->log, "layer %s: %zu device nodes skipped", l->digest, u->skipped_devices);
	ocr_debug(&u->ctx->log, "layer %s: unpacked into %s", l->digest, l->dir);
	if (u->progress) {
		struct image_progress p = {.layer = index + 1,
					   .n_layers = u->n_layers,
					   .digest = l->digest,
					   .done = u->bytes,
					   .total = u->bytes,
					   .finished = true};
		u->progress(u->progress_arg, &p);
	}
	return 0;
}

/* Runs as root of the user namespace. */
static int unpack_all(void *arg, struct ocr_error *err)
{
	struct unpack *u = arg;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int dfd;

	umask(022);
	/* Leftovers of an interrupted run (we hold the cache lock). */
	dfd = dup(u->cachefd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	while (d && (de = readdir(d)) != NULL)
		if (str_has_prefix(de->d_name, ".tmp-") && overlay_remove_tree(u->cachefd, de->d_name, err) < 0)
			return -1;
	for (size_t i = 0; i < u->n_layers; i++) {
		struct stat st;
		if (u->layers[i].cached)
			continue;
		/* the same layer twice in one image */
		if (fstatat(u->cachefd, u->layers[i].hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (unpack_layer(u, i, err) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the config */

/* FILE (etc/passwd) of the merged layers: the topmost layer that has it,
 * unless a whiteout hides it. */
static char *layers_file(const struct layer *layers, size_t n, const char *file)
{
	for (size_t i = n; i-- > 0;) {
		cleanup_close int rootfd = open(layers[i].dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		cleanup_close int fd = -1;
		char *data = NULL;
		struct stat st;
		ssize_t len;

		if (rootfd < 0)
			continue;
		fd = open_in_layer(rootfd, file, O_RDONLY);
		if (fd < 0) {
			if (fstatat(rootfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
			    st.st_rdev == makedev(0, 0))
				return NULL;
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return NULL;
		data = xmalloc(1 << 20);
		len = read_all(fd, data, (1 << 20) - 1);
		data[len > 0 ? len : 0] = '\0';
		return data;
	}
	return NULL;
}

static json_t *strings_json(json_t *a, json_t *b)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach (a, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	json_array_foreach (b, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	return out;
}

static json_t *env_json(json_t *env)
{
	json_t *out = json_array(), *v;
	bool has_path = false;
	size_t i;

	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL || strchr(s, '=') == NULL)
			continue;
		has_path |= str_has_prefix(s, "PATH=");
		json_array_append(out, v);
	}
	if (!has_path)
		json_array_insert_new(out, 0,
				      json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	return out;
}

static json_t *idmaps_json(const struct spec_idmap *m, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)m[i].container_id,
						   "hostID", (json_int_t)m[i].host_id, "size", (json_int_t)m[i].size));
	return a;
}

static char *layers_annotation(const struct layer *layers, size_t n)
{
	size_t len = 1;
	char *s, *q;

	for (size_t i = 0; i < n; i++)
		len += strlen(layers[i].dir) + 1;
	q = s = xmalloc(len);
	for (size_t i = n; i-- > 0;)
		q += sprintf(q, "%s%s", i == n - 1 ? "" : ":", layers[i].dir);
	*q = '\0';
	return s;
}

static int process_json(const struct ocr_ctx *ctx, json_t *spec, json_t *icfg, const struct layer *layers, size_t n,
			struct ocr_error *err)
{
	json_t *proc = json_object_get(spec, "process");
	json_t *args = strings_json(json_object_get(icfg, "Entrypoint"), json_object_get(icfg, "Cmd"));
	const char *wd = json_string_value(json_object_get(icfg, "WorkingDir"));
	const char *user = json_string_value(json_object_get(icfg, "User"));
	cleanup_free char *passwd = NULL;
	cleanup_free char *group = NULL;
	uint32_t uid, gid;

	if (json_array_size(args) == 0) {
		json_decref(args);
		return ocr_fail(err, EINVAL, "image config: neither Entrypoint nor Cmd: nothing to run");
	}
	if (user && user[0] && (strspn(user, "0123456789:") != strlen(user) || strchr(user, ':') == NULL)) {
		passwd = layers_file(layers, n, "etc/passwd");
		group = layers_file(layers, n, "etc/group");
	}
	if (image_parse_user(user, passwd, group, &uid, &gid, err) < 0) {
		json_decref(args);
		return -1;
	}
	ocr_debug(&ctx->log, "image: user `%s` is %u:%u", user ? user : "", uid, gid);
	json_object_set_new(proc, "terminal", json_false());
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "env", env_json(json_object_get(icfg, "Env")));
	if (wd && wd[0] && wd[0] != '/')
		json_object_set_new(proc, "cwd", json_sprintf("/%s", wd));
	else
		json_object_set_new(proc, "cwd", json_string(wd && wd[0] ? wd : "/"));
	json_object_set_new(proc, "user", json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid));
	return 0;
}

static json_t *annotations_json(const struct ocr_ctx *ctx, json_t *icfg, const struct layer *layers, size_t n)
{
	json_t *ann = json_object(), *v;
	const char *key, *sig = json_string_value(json_object_get(icfg, "StopSignal"));
	cleanup_free char *lay = layers_annotation(layers, n);

	json_object_foreach (json_object_get(icfg, "Labels"), key, v) {
		/* an image must not choose where the runtime writes */
		if (str_has_prefix(key, "run.oci.ocirt.") || !json_is_string(v)) {
			ocr_debug(&ctx->log, "image: label `%s` not copied into the annotations", key);
			continue;
		}
		json_object_set(ann, key, v);
	}
	if (sig)
		json_object_set_new(ann, "org.opencontainers.image.stopSignal", json_string(sig));
	json_object_set_new(ann, OVERLAY_ANN_LAYERS, json_string(lay));
	return ann;
}

static int write_config(const struct ocr_ctx *ctx, const struct image_bundle_opts *o, json_t *image_config,
			const struct idmap_plan *plan, const struct layer *layers, size_t n, struct ocr_error *err)
{
	cleanup_free char *def = spec_default_json(o->rootless, ctx->euid, ctx->egid);
	json_auto_t *spec = def ? json_loads(def, 0, NULL) : NULL;
	json_t *icfg = json_object_get(image_config, "config");
	json_t *lx;
	cleanup_free char *out = NULL;
	cleanup_free char *path = NULL;
	struct stat st;
	bool made = false;

	if (spec == NULL)
		return ocr_fail(err, ENOMEM, "default config");
	if (process_json(ctx, spec, icfg, layers, n, err) < 0)
		return -1;
	json_object_set_new(spec, "root", json_pack("{s:s, s:b}", "path", "rootfs", "readonly", 0));
	json_object_set_new(spec, "annotations", annotations_json(ctx, icfg, layers, n));
	lx = json_object_get(spec, "linux");
	if (o->rootless && plan->new_userns && !plan->single_id) {
		/* the mapping the layers were unpacked with */
		json_object_set_new(lx, "uidMappings", idmaps_json(plan->uid, plan->n_uid));
		json_object_set_new(lx, "gidMappings", idmaps_json(plan->gid, plan->n_gid));
	}
	out = json_dumps(spec, JSON_INDENT(4));
	if (out == NULL)
		return ocr_fail(err, ENOMEM, "encode config.json");
	if (stat(o->bundle, &st) < 0) {
		if (errno != ENOENT || mkdir(o->bundle, 0755) < 0)
			return ocr_fail_errno(err, "bundle `%s`", o->bundle);
		made = true;
	} else if (!S_ISDIR(st.st_mode)) {
		return ocr_fail(err, ENOTDIR, "bundle `%s`: not a directory", o->bundle);
	}
	path = xasprintf("%s/config.json", o->bundle);
	if (!made && access(path, F_OK) == 0)
		return ocr_fail(err, EEXIST, "`%s` exists: remove it or choose another bundle directory", path);
	{
		cleanup_free char *data = xasprintf("%s\n", out);
		if (write_file_atomic(path, data, strlen(data), 0644, err) < 0) {
			if (made)
				rmdir(o->bundle);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ image_bundle */

static int open_cache(const char *dir, int *ret_fd, int *ret_lock, struct ocr_error *err)
{
	cleanup_free char *layers = xasprintf("%s/layers/sha256", dir);
	cleanup_free char *lock = xasprintf("%s/layers/.lock", dir);

	if (strpbrk(dir, ",:\\\n"))
		return ocr_fail(err, EINVAL, "cache `%s`: overlay paths may not contain `,`, `:`, `\\` or newlines",
				dir);
	if (dir[0] != '/')
		return ocr_fail(err, EINVAL, "cache `%s`: not an absolute path", dir);
	if (mkdir_p(layers, 0700, err) < 0)
		return ocr_wrap(err, "cache");
	*ret_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*ret_lock < 0)
		return ocr_fail_errno(err, "cache lock `%s`", lock);
	if (TEMP_FAILURE_RETRY(flock(*ret_lock, LOCK_EX)) < 0)
		return ocr_fail_errno(err, "lock `%s`", lock);
	*ret_fd = open(layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*ret_fd < 0)
		return ocr_fail_errno(err, "cache `%s`", layers);
	return 0;
}

static bool known_layer_type(const char *mt)
{
	static const char *const types[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(mt, types[i]) == 0)
			return true;
	return false;
}

/* Open every layer's blob; verify those already unpacked. */
static int prepare_layers(struct unpack *u, json_t *manifest, const struct layout *lay, const char *cache,
			  struct ocr_error *err)
{
	json_t *arr = json_object_get(manifest, "layers"), *d;
	size_t i;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return ocr_fail(err, EINVAL, "manifest: no layers");
	if (json_array_size(arr) > IMAGE_MAX_LAYERS)
		return ocr_fail(err, E2BIG, "manifest: more than %d layers", IMAGE_MAX_LAYERS);
	u->n_layers = json_array_size(arr);
	u->layers = xcalloc(u->n_layers, sizeof(*u->layers));
	for (i = 0; i < u->n_layers; i++)
		u->layers[i].blobfd = -1;
	json_array_foreach (arr, i, d) {
		struct layer *l = &u->layers[i];
		const char *mt = json_string_value(json_object_get(d, "mediaType"));
		struct stat st;

		l->digest = json_string_value(json_object_get(d, "digest"));
		l->hex = image_digest_hex(l->digest);
		l->size = desc_size(d);
		if (mt && !known_layer_type(mt))
			return ocr_fail(err, ENOTSUP, "layer %s: unsupported media type `%s`", l->digest, mt);
		l->blobfd = blob_open(lay, l->digest, err);
		if (l->blobfd < 0)
			return ocr_wrap(err, "layer %zu of %zu", i + 1, u->n_layers);
		l->dir = xasprintf("%s/layers/sha256/%s", cache, l->hex);
		l->cached = fstatat(u->cachefd, l->hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (l->cached) {
			struct image_progress p = {.layer = i + 1,
						   .n_layers = u->n_layers,
						   .digest = l->digest,
						   .total = l->size > 0 ? (uint64_t)l->size : 0,
						   .cached = true};
			if (blob_verify_fd(l->blobfd, l->digest, l->size, "layer", u->progress, u->progress_arg, &p,
					   err) < 0)
				return ocr_wrap(err, "layer %zu of %zu", i + 1, u->n_layers);
			ocr_debug(&u->ctx->log, "layer %s: cached in %s", l->digest, l->dir);
			if (u->progress) {
				p.finished = true;
				p.done = p.total;
				u->progress(u->progress_arg, &p);
			}
		}
	}
	return 0;
}

static void unpack_clear(struct unpack *u)
{
	for (size_t i = 0; i < u->n_layers; i++) {
		if (u->layers[i].blobfd >= 0)
			close(u->layers[i].blobfd);
		free(u->layers[i].dir);
	}
	free(u->layers);
	free(u->dirs);
	if (u->cachefd >= 0)
		close(u->cachefd);
	if (u->api.handle)
		dlclose(u->api.handle);
}

static int load_image(const struct layout *lay, const char *tag, json_t **ret_manifest, json_t **ret_config,
		      struct ocr_error *err)
{
	cleanup_free char *data = NULL;
	json_auto_t *index = NULL;
	json_auto_t *top = NULL;
	json_error_t jerr;
	size_t len;

	if (read_file_at(lay->fd, "index.json", IMAGE_MAX_JSON, &data, &len, err) < 0)
		return ocr_wrap(err, "`%s` is not an OCI image layout", lay->dir);
	index = json_loadb(data, len, 0, &jerr);
	if (!json_is_object(index))
		return ocr_fail(err, EINVAL, "`%s/index.json`: line %d: %s", lay->dir, jerr.line, jerr.text);
	top = select_top(index, tag, lay->dir, err);
	if (top == NULL || resolve_manifest(lay, top, 0, ret_manifest, err) < 0)
		return -1;
	if (blob_json(lay, json_object_get(*ret_manifest, "config"), "image config", ret_config, err) < 0)
		return -1;
	return 0;
}

int image_bundle(const struct ocr_ctx *ctx, const struct image_bundle_opts *o, struct ocr_error *err)
{
	struct layout lay = {.fd = -1};
	cleanup_free char *tag = NULL;
	cleanup_free char *cache = NULL;
	cleanup_close int lockfd = -1;
	json_auto_t *manifest = NULL;
	json_auto_t *config = NULL;
	struct idmap_plan *plan = xcalloc(1, sizeof(*plan));
	struct unpack *u = xcalloc(1, sizeof(*u));
	bool need_unpack = false;
	int rc = -1;

	u->ctx = ctx;
	u->cachefd = u->rootfd = -1;
	u->progress = o->progress;
	u->progress_arg = o->progress_arg;
	if (image_split_ref(o->image, &lay.dir, &tag, err) < 0)
		goto out;
	lay.fd = open(lay.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lay.fd < 0) {
		ocr_fail_errno(err, "image layout `%s`", lay.dir);
		goto out;
	}
	if (load_image(&lay, tag, &manifest, &config, err) < 0)
		goto out;
	cache = image_cache_dir(o->cache, err);
	if (cache == NULL || open_cache(cache, &u->cachefd, &lockfd, err) < 0)
		goto out;
	if (prepare_layers(u, manifest, &lay, cache, err) < 0)
		goto out;
	if (overlay_userns_plan(ctx, false, plan, err) < 0)
		goto out;
	u->single_id = plan->single_id;
	for (size_t i = 0; i < u->n_layers; i++)
		need_unpack |= !u->layers[i].cached;
	if (need_unpack && (archive_load(&u->api, err) < 0 || overlay_userns_run(ctx, plan, unpack_all, u, err) < 0))
		goto out;
	rc = write_config(ctx, o, config, plan, u->layers, u->n_layers, err);
out:
	if (rc < 0)
		ocr_wrap(err, "bundle `%s` from `%s`", o->bundle, o->image);
	if (lay.fd >= 0)
		close(lay.fd);
	free(lay.dir);
	unpack_clear(u);
	free(u);
	free(plan);
	return rc;
}
