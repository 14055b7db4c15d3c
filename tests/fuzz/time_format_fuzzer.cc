// Fuzz target: RFC 3339 and duration parsing. Never a crash; a parsed time
// formats and parses back to itself.
#include <cstdint>
#include <cstdlib>

#include "engine/time_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tillstream::Timestamp> ts = tillstream::ParseRfc3339(text);
  if (ts.ok()) {
    absl::StatusOr<tillstream::Timestamp> again =
        tillstream::ParseRfc3339(tillstream::FormatRfc3339(*ts));
    if (!again.ok() || *again != *ts) std::abort();
  }
  absl::StatusOr<int64_t> ms = tillstream::ParseDurationMs(text);
  if (ms.ok() && *ms < 0) std::abort();
  return 0;
}
