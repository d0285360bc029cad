/* Capabilities of the container process, applied as runc does: the
 * bounding set first (while still privileged), keep-caps across setresuid,
 * then effective/permitted/inheritable in one capset and ambient one by
 * one. Names the running kernel does not know are skipped with a debug
 * line, like runc's "ignoring unknown or unavailable capabilities". */
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "utils.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* One bit per capability number; the kernel has far fewer than 64. */
#define CAPS_MAX 64

int caps_last_cap(void)
{
	cleanup_free char *buf = NULL;
	uint64_t v;
	size_t len;

	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &buf, &len, NULL) < 0)
		return CAP_LAST_CAP;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (parse_u64(buf, &v) < 0 || v >= CAPS_MAX)
		return CAP_LAST_CAP;
	return (int)v;
}

/* "CAP_SYS_ADMIN" -> 21, or -1 when this kernel (or libcap) does not know
 * it. cap_from_name() is lenient (numbers, trailing junk), so the number
 * must map back to the same name. */
static int cap_number(const char *name, int last_cap)
{
	cap_value_t v;
	char *back;
	bool same;

	if (cap_from_name(name, &v) < 0 || v < 0 || v > last_cap)
		return -1;
	back = cap_to_name(v);
	if (back == NULL)
		return -1;
	same = strcasecmp(back, name) == 0;
	cap_free(back);
	return same ? (int)v : -1;
}

/* Translate NAMES into a bit mask of the capabilities this kernel knows. */
static uint64_t caps_mask(char *const *names, size_t n, int last_cap, const struct ocr_log *log)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < n; i++) {
		int v = cap_number(names[i], last_cap);
		if (v < 0) {
			ocr_debug(log, "capability %s is not known to this kernel, skipped", names[i]);
			continue;
		}
		mask |= UINT64_C(1) << v;
	}
	return mask;
}

static const char *cap_label(int cap, char *buf, size_t len)
{
	char *name = cap_to_name((cap_value_t)cap);

	snprintf(buf, len, "%s", name ? name : "?");
	cap_free(name);
	for (char *p = buf; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return buf;
}

int caps_drop_bounding(const struct spec_caps *caps, const struct ocr_log *log, struct ocr_error *err)
{
	static const struct spec_caps none;
	int last = caps_last_cap();
	uint64_t keep;

	/* Absent process.capabilities: no capabilities at all, as runc and
	 * crun do; never the full set root holds in the user namespace. */
	if (caps == NULL)
		caps = &none;
	keep = caps_mask(caps->bounding, caps->n_bounding, last, log);
	for (int cap = 0; cap <= last; cap++) {
		char label[64];
		int in_set;

		if (keep & (UINT64_C(1) << cap))
			continue;
		/* Nothing to do (and no CAP_SETPCAP needed) when it is gone. */
		in_set = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (in_set == 0 || (in_set < 0 && errno == EINVAL))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0 && errno != EINVAL)
			return ocr_fail_errno(err, "drop %s from the capability bounding set",
					      cap_label(cap, label, sizeof(label)));
	}
	return 0;
}

int caps_keep_on_setuid(const struct spec_caps *caps, struct ocr_error *err)
{
	if (caps == NULL)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return ocr_fail_errno(err, "prctl(PR_SET_KEEPCAPS, 1)");
	return 0;
}

static int cap_set_mask(cap_t c, cap_flag_t flag, uint64_t mask, int last)
{
	for (int cap = 0; cap <= last; cap++) {
		cap_value_t v = (cap_value_t)cap;
		if ((mask & (UINT64_C(1) << cap)) && cap_set_flag(c, flag, 1, &v, CAP_SET) < 0)
			return -1;
	}
	return 0;
}

/* Ambient capabilities last: the kernel only raises one that is both
 * permitted and inheritable. As runc does (for compatibility with its old
 * behaviour), a cap that cannot be raised is a warning, not an error. */
static int caps_apply_ambient(uint64_t ambient, int last, const struct ocr_log *log, struct ocr_error *err)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		/* EINVAL: kernel before 4.3, which has no ambient set at all. */
		if (errno != EINVAL || ambient != 0)
			return ocr_fail_errno(err, "clear the ambient capabilities");
	}
	for (int cap = 0; cap <= last; cap++) {
		char label[64];

		if (!(ambient & (UINT64_C(1) << cap)))
			continue;
		/* runc skips these silently; a line on every run would be noise
		 * for configs that list ambient without inheritable. */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) < 0)
			ocr_debug(log, "cannot raise ambient capability %s: %s", cap_label(cap, label, sizeof(label)),
				  strerror(errno));
	}
	return 0;
}

int caps_apply(const struct spec_caps *caps, const struct ocr_log *log, struct ocr_error *err)
{
	int last = caps_last_cap();
	static const struct spec_caps none;
	uint64_t eff, perm, inh, amb;
	cap_t c;
	int r;

	if (caps == NULL)
		caps = &none;
	eff = caps_mask(caps->effective, caps->n_effective, last, log);
	perm = caps_mask(caps->permitted, caps->n_permitted, last, log);
	inh = caps_mask(caps->inheritable, caps->n_inheritable, last, log);
	amb = caps_mask(caps->ambient, caps->n_ambient, last, log);

	c = cap_init();
	if (c == NULL)
		return ocr_fail_errno(err, "cap_init");
	r = cap_set_mask(c, CAP_EFFECTIVE, eff, last);
	if (r == 0)
		r = cap_set_mask(c, CAP_PERMITTED, perm, last);
	if (r == 0)
		r = cap_set_mask(c, CAP_INHERITABLE, inh, last);
	if (r < 0) {
		ocr_fail_errno(err, "build the capability sets");
		cap_free(c);
		return -1;
	}
	r = cap_set_proc(c);
	cap_free(c);
	if (r < 0) {
		if (errno == EPERM && (eff & ~perm) != 0)
			return ocr_fail_errno(err, "set capabilities (an effective capability "
						   "is not in the permitted set)");
		return ocr_fail_errno(err, "set capabilities");
	}
	if (caps_apply_ambient(amb, last, log, err) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return ocr_fail_errno(err, "prctl(PR_SET_KEEPCAPS, 0)");
	return 0;
}
