#include "subid.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest subuid file we read: /etc/subuid of a site with 100,000 users is
 * about 3 MiB. */
#define SUBID_MAX_FILE (16u * 1024u * 1024u)

const char *subid_file(enum subid_kind kind)
{
	return kind == SUBID_UID ? "/etc/subuid" : "/etc/subgid";
}

const char *subid_kind_name(enum subid_kind kind)
{
	return kind == SUBID_UID ? "uid" : "gid";
}

/* Strict decimal: digits only, no sign, no blanks, no overflow. */
static bool parse_dec(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/* One line (no newline) as NAME, START, COUNT; false when malformed. */
static bool parse_line(const char *line, size_t len, const char **ret_name, size_t *ret_name_len, uint64_t *ret_start,
		       uint64_t *ret_count)
{
	const char *c1 = memchr(line, ':', len), *c2;

	if (c1 == NULL || c1 == line || line[0] == '#')
		return false;
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
	if (c2 == NULL)
		return false;
	if (!parse_dec(c1 + 1, (size_t)(c2 - c1 - 1), ret_start) ||
	    !parse_dec(c2 + 1, len - (size_t)(c2 + 1 - line), ret_count))
		return false;
	/* The kernel never maps id 4294967295 ((uid_t)-1). */
	if (*ret_count == 0 || *ret_start + *ret_count > UINT32_MAX)
		return false;
	*ret_name = line;
	*ret_name_len = (size_t)(c1 - line);
	return true;
}

size_t subid_parse(const char *text, const char *user, uid_t uid, struct idmap_range *ret, size_t max)
{
	char uidstr[16];
	size_t n = 0;

	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	while (*text) {
		size_t len = strcspn(text, "\n"), name_len;
		const char *name;
		uint64_t start, count;

		if (parse_line(text, len, &name, &name_len, &start, &count) &&
		    ((user && strlen(user) == name_len && memcmp(name, user, name_len) == 0) ||
		     (strlen(uidstr) == name_len && memcmp(name, uidstr, name_len) == 0)) &&
		    n < max) {
			ret[n].start = (uint32_t)start;
			ret[n].count = (uint32_t)count;
			n++;
		}
		text += len;
		if (*text == '\n')
			text++;
	}
	return n;
}

static int read_text(const char *path, char **ret, struct ocr_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t got = 0;
	char *buf;

	*ret = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : ocr_fail_errno(err, "open `%s`", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > SUBID_MAX_FILE) {
		close(fd);
		return ocr_fail(err, EFBIG, "`%s` is not a regular file of at most %u bytes", path, SUBID_MAX_FILE);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return ocr_fail(err, ENOMEM, "read `%s`", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return ocr_fail_errno(err, "read `%s`", path);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*ret = buf;
	return 0;
}

int subid_read_file(const char *path, const char *user, uid_t uid, struct idmap_range *ret, size_t max, size_t *ret_n,
		    struct ocr_error *err)
{
	char *text = NULL;

	*ret_n = 0;
	if (read_text(path, &text, err) < 0)
		return -1;
	if (text)
		*ret_n = subid_parse(text, user, uid, ret, max);
	free(text);
	return 0;
}

/* libsubid's own types (shadow/subid.h, ABI 4), declared here so the
 * runtime builds and runs where libsubid is not installed. */
struct libsubid_range {
	unsigned long start, count;
};
typedef bool (*libsubid_init_fn)(const char *progname, FILE *logfd);
typedef int (*libsubid_ranges_fn)(const char *owner, struct libsubid_range **ranges);

int subid_from_libsubid(enum subid_kind kind, const char *user, struct subid_ranges *ret)
{
	/* subid_init once per process: it opens /dev/null for libsubid's
	 * messages each time it is called without a stream. */
	static bool initialised;
	void *h;
	libsubid_init_fn init;
	libsubid_ranges_fn get;
	struct libsubid_range *r = NULL;
	int n;

	if (user == NULL)
		return 0;
	h = dlopen("libsubid.so.4", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return 0;
	init = (libsubid_init_fn)dlsym(h, "subid_init");
	get = (libsubid_ranges_fn)dlsym(h, kind == SUBID_UID ? "subid_get_uid_ranges" : "subid_get_gid_ranges");
	if (init == NULL || get == NULL)
		return 0;
	if (!initialised) {
		init("ocirt-rootless", NULL);
		initialised = true;
	}
	n = get(user, &r);
	ret->n = 0;
	for (int i = 0; i < n && ret->n < SUBID_MAX_RANGES; i++) {
		if (r[i].count == 0 || r[i].start > UINT32_MAX || r[i].count > UINT32_MAX ||
		    (uint64_t)r[i].start + r[i].count > UINT32_MAX)
			continue;
		ret->r[ret->n].start = (uint32_t)r[i].start;
		ret->r[ret->n].count = (uint32_t)r[i].count;
		ret->n++;
	}
	free(r);
	if (ret->n == 0)
		return 0;
	ret->source = SUBID_SOURCE_LIBSUBID;
	ret->where = "libsubid";
	return 1;
}

bool subid_nss_configured(const char *nsswitch_text)
{
	const char *p = nsswitch_text;

	while (*p) {
		size_t len = strcspn(p, "\n");
		const char *q = p + strspn(p, " \t");
		if (strncmp(q, "subid:", 6) == 0 && q + 6 <= p + len)
			return true;
		p += len;
		if (*p == '\n')
			p++;
	}
	return false;
}

/* Without a `subid:` source libsubid reads the same files we do: skip
 * loading it (and its dozen libraries) then. */
static bool libsubid_needed(void)
{
	struct ocr_error ignored;
	char *text = NULL;
	bool yes;

	if (read_text("/etc/nsswitch.conf", &text, &ignored) < 0 || text == NULL)
		return false;
	yes = subid_nss_configured(text);
	free(text);
	return yes;
}

int subid_lookup(enum subid_kind kind, const char *user, uid_t uid, struct subid_ranges *ret, struct ocr_error *err)
{
	ret->n = 0;
	ret->source = SUBID_SOURCE_NONE;
	ret->where = subid_file(kind);
	if (libsubid_needed() && subid_from_libsubid(kind, user, ret) == 1)
		return 0;
	ret->where = subid_file(kind);
	if (subid_read_file(subid_file(kind), user, uid, ret->r, SUBID_MAX_RANGES, &ret->n, err) < 0)
		return -1;
	if (ret->n > 0)
		ret->source = SUBID_SOURCE_FILE;
	return 0;
}

bool subid_covers(const struct idmap_range *r, size_t n, uint64_t start, uint64_t count)
{
	uint64_t cur = start, end = start + count;

	if (count == 0)
		return false;
	while (cur < end) {
		size_t i;
		for (i = 0; i < n; i++)
			if (r[i].start <= cur && cur < (uint64_t)r[i].start + r[i].count)
				break;
		if (i == n)
			return false;
		cur = (uint64_t)r[i].start + r[i].count;
	}
	return true;
}

bool subid_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

void subid_format(const struct idmap_range *r, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%u-%u", i ? ", " : "", r[i].start,
				 (unsigned)((uint64_t)r[i].start + r[i].count - 1));
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				strcpy(buf + len - 4, "...");
			return;
		}
		used += (size_t)w;
	}
}

uint32_t subid_suggest_start(const char *text)
{
	uint64_t top = 100000;

	while (*text) {
		size_t len = strcspn(text, "\n"), name_len;
		const char *name;
		uint64_t start, count;

		if (parse_line(text, len, &name, &name_len, &start, &count) && start + count > top)
			top = start + count;
		text += len;
		if (*text == '\n')
			text++;
	}
	if (top > 100000)
		top = (top + 65535) / 65536 * 65536;
	return top + 65536 > UINT32_MAX ? 0 : (uint32_t)top;
}
