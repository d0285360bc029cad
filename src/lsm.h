/* AppArmor profiles and SELinux labels for the container process: applied
 * when the host has that LSM enabled; asking for one the host lacks is an
 * error, never silently ignored. */
#ifndef OCR_LSM_H
#define OCR_LSM_H

#include "error.h"
#include "spec.h"

/* Check at create time that what P asks for can be honoured. */
int lsm_check(const struct spec_process *p, struct ocr_error *err);
/* Arrange for the next execve to switch profile/label. */
int lsm_apply_on_exec(const struct spec_process *p, struct ocr_error *err);

#endif
