#include "engine/money.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tillstream {

absl::StatusOr<int64_t> ParseCents(absl::string_view text,
                                   absl::string_view field) {
  auto not_decimal = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " \"", text.substr(0, 40), "\" is not a decimal", why));
  };
  if (text.empty()) return not_decimal("");
  if (text[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be >= 0, got ", text.substr(0, 40)));
  }
  size_t pos = 0;
  int64_t whole = 0;
  int whole_digits = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, text[pos] - '0', &whole)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " \"", text.substr(0, 40), "\" is out of range"));
    }
    ++pos;
    ++whole_digits;
  }
  if (whole_digits == 0) return not_decimal("");
  int64_t fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int fraction_digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction = fraction * 10 + (text[pos] - '0');
      ++pos;
      if (++fraction_digits > 2) {
        return not_decimal(" with at most 2 fraction digits");
      }
    }
    if (fraction_digits == 0) return not_decimal("");
    if (fraction_digits == 1) fraction *= 10;
  }
  if (pos != text.size()) return not_decimal("");
  int64_t cents;
  if (__builtin_mul_overflow(whole, 100, &cents) ||
      __builtin_add_overflow(cents, fraction, &cents)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " \"", text.substr(0, 40), "\" is out of range"));
  }
  return cents;
}

void AppendCents(int64_t cents, std::string* out) {
  // Work in unsigned so that INT64_MIN prints correctly.
  uint64_t magnitude = cents < 0 ? 0 - static_cast<uint64_t>(cents)
                                 : static_cast<uint64_t>(cents);
  if (cents < 0) out->push_back('-');
  absl::StrAppend(out, magnitude / 100, ".");
  out->push_back(static_cast<char>('0' + magnitude % 100 / 10));
  out->push_back(static_cast<char>('0' + magnitude % 10));
}

std::string FormatCents(int64_t cents) {
  std::string out;
  AppendCents(cents, &out);
  return out;
}

int64_t DivideRoundHalfAwayFromZero(int64_t numerator, int64_t denominator) {
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  int64_t quotient = numerator / denominator;
  int64_t remainder = numerator % denominator;
  // |remainder| * 2 >= denominator rounds away from zero; compare without
  // doubling so that no intermediate overflows.
  int64_t abs_remainder = remainder < 0 ? -remainder : remainder;
  if (abs_remainder >= denominator - abs_remainder) {
    quotient += numerator < 0 ? -1 : 1;
  }
  return quotient;
}

}  // namespace tillstream
