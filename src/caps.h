/* Capabilities of the container process (libcap), applied around the
 * switch to process.user as runc does:
 *   caps_drop_bounding()  while still uid 0 in the user namespace
 *   caps_keep_on_setuid() before setresuid()
 *   caps_apply()          after setresuid(): effective, permitted,
 *                         inheritable, then ambient. */
#ifndef OCR_CAPS_H
#define OCR_CAPS_H

#include "error.h"
#include "log.h"
#include "spec.h"

/* CAPS may be NULL (process.capabilities absent): the process then gets
 * no capabilities, as with empty lists. */
int caps_drop_bounding(const struct spec_caps *caps, const struct ocr_log *log, struct ocr_error *err);
int caps_keep_on_setuid(const struct spec_caps *caps, struct ocr_error *err);
int caps_apply(const struct spec_caps *caps, const struct ocr_log *log, struct ocr_error *err);

/* Highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap). */
int caps_last_cap(void);

#endif
