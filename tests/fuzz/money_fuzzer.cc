// Fuzz target: decimal money parsing. Never a crash; parsed cents format and
// parse back to the same value.
#include <cstdint>
#include <cstdlib>

#include "engine/money.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<int64_t> cents = tillstream::ParseCents(text, "price");
  if (cents.ok()) {
    if (*cents < 0) std::abort();
    absl::StatusOr<int64_t> again =
        tillstream::ParseCents(tillstream::FormatCents(*cents), "price");
    if (!again.ok() || *again != *cents) std::abort();
  }
  return 0;
}
