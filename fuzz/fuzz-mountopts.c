/* libFuzzer target: mounts[].options (NUL-separated in the input): mount_parse_options().
 * Built and run by `make fuzz`; the entry point is shared with
 * tests/unit/test-fuzz-regressions.c (see fuzz-targets.h). */
#include "fuzz-targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_mountopts(data, size);
	return 0;
}
