/* Subordinate id ranges of a user: libsubid first (so ranges served by
 * LDAP/SSSD through nsswitch `subid:` work), then /etc/subuid and
 * /etc/subgid. Also the range algebra the mapping policy and the
 * newuidmap-shim share. This file is part of the shim's trusted code: it
 * uses only libc, dlopen and error.c. */
#ifndef OCR_SUBID_H
#define OCR_SUBID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The kernel's limit on uid_map/gid_map lines; also how many ranges of
 * one user we keep (a map could not use more). */
#define SUBID_MAX_RANGES 340

struct idmap_range {
	uint32_t start, count;
};

enum subid_kind { SUBID_UID, SUBID_GID };

enum subid_source { SUBID_SOURCE_NONE, SUBID_SOURCE_LIBSUBID, SUBID_SOURCE_FILE };

struct subid_ranges {
	struct idmap_range r[SUBID_MAX_RANGES];
	size_t n;
	enum subid_source source;
	const char *where; /* "libsubid" or the file; static storage */
};

/* "/etc/subuid" or "/etc/subgid"; "uid" or "gid". */
const char *subid_file(enum subid_kind kind);
const char *subid_kind_name(enum subid_kind kind);

/* The ranges of USER (or of the decimal UID) in the text of a subuid
 * file: "NAME:START:COUNT" lines; comments, blank and malformed lines
 * (bad numbers, COUNT 0, ranges past 2^32-1) are skipped. Keeps at most
 * MAX; returns how many it kept. */
size_t subid_parse(const char *text, const char *user, uid_t uid, struct idmap_range *ret, size_t max);

/* subid_parse of PATH; a missing file is no ranges, not an error. */
int subid_read_file(const char *path, const char *user, uid_t uid, struct idmap_range *ret, size_t max, size_t *ret_n,
		    struct ocr_error *err);

/* Ask libsubid (libsubid.so.4, loaded on first use). Returns 1 when it
 * answered with ranges, 0 when it is not installed, failed or had none. */
int subid_from_libsubid(enum subid_kind kind, const char *user, struct subid_ranges *ret);

/* Does nsswitch.conf text name a `subid:` source (LDAP, SSSD...)? */
bool subid_nss_configured(const char *nsswitch_text);

/* libsubid, then the file: the ranges of USER/UID and where they came
 * from (source NONE and n 0 when the user has none). libsubid is only
 * loaded when /etc/nsswitch.conf names a `subid:` source: without one it
 * reads the same files. */
int subid_lookup(enum subid_kind kind, const char *user, uid_t uid, struct subid_ranges *ret, struct ocr_error *err);

/* Does the union of R cover START..START+COUNT-1 (ranges may touch, as
 * shadow's have_sub_uids allows)? */
bool subid_covers(const struct idmap_range *r, size_t n, uint64_t start, uint64_t count);

/* Do [A, A+AN) and [B, B+BN) share an id? */
bool subid_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn);

/* "100000-165535, 200000-200099" into BUF (truncated with "..."). */
void subid_format(const struct idmap_range *r, size_t n, char *buf, size_t len);

/* A start for a new 65536-id range after every range in the text of a
 * subuid file (for "add this line" hints): a multiple of 65536, >= 100000. */
uint32_t subid_suggest_start(const char *text);

#endif
