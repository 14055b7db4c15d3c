#ifndef TILLSTREAM_ENGINE_MONEY_H_
#define TILLSTREAM_ENGINE_MONEY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tillstream {

// Parses a non-negative decimal with at most two fraction digits ("3.49",
// "12", "0.5") into integer cents, exactly: never through a double.
// `field` names the value in the error ("unit_price \"3,49\" is not a
// decimal").
absl::StatusOr<int64_t> ParseCents(absl::string_view text,
                                   absl::string_view field);

// Appends cents as a decimal with two fraction digits: 123450 -> "1234.50",
// -310 -> "-3.10".
void AppendCents(int64_t cents, std::string* out);
std::string FormatCents(int64_t cents);

// numerator / denominator rounded half away from zero, for denominator != 0.
int64_t DivideRoundHalfAwayFromZero(int64_t numerator, int64_t denominator);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_MONEY_H_
