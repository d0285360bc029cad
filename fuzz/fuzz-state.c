/* libFuzzer target: state.json as list/state/start/kill/delete read it: state_read(), state_status(), state_oci_json().
 * Built and run by `make fuzz`; the entry point is shared with
 * tests/unit/test-fuzz-regressions.c (see fuzz-targets.h). */
#include "fuzz-targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_state(data, size);
	return 0;
}
