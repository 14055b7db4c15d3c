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

// A sum of money in cents. Each event's amount is a checked 64-bit value;
// sums of them are 128-bit, so no feasible number of events can overflow.
using CentsSum = __int128;

// Appends cents as a decimal with two fraction digits: 123450 -> "1234.50",
// -310 -> "-3.10".
void AppendCents(CentsSum cents, std::string* out);
std::string FormatCents(CentsSum cents);
// Appends a whole number (a 128-bit count or sum) in decimal.
void AppendWholeNumber(CentsSum value, std::string* out);

// numerator / denominator rounded half away from zero, for denominator != 0.
CentsSum DivideRoundHalfAwayFromZero(CentsSum numerator, CentsSum denominator);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_MONEY_H_
