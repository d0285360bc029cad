/* `spec`: write the default config.json into a bundle. */
#ifndef OCR_SPECGEN_H
#define OCR_SPECGEN_H

#include <stdbool.h>

#include "ctx.h"
#include "error.h"

int specgen_write(const struct ocr_ctx *ctx, const char *bundle, bool rootless, struct ocr_error *err);

#endif
