/* libFuzzer target: exec --process FILE: spec_parse_process().
 * Built and run by `make fuzz`; the entry point is shared with
 * tests/unit/test-fuzz-regressions.c (see fuzz-targets.h). */
#include "fuzz-targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_process(data, size);
	return 0;
}
