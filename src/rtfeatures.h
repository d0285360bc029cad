/* `features`: what this binary supports (runtime-spec features.md and
 * features-linux.md), fixed at build time. */
#ifndef OCR_FEATURES_H
#define OCR_FEATURES_H

/* Pretty-printed JSON, malloc'd. */
char *features_json(void);

#endif
