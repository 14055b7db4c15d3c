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

namespace {

using Unsigned128 = unsigned __int128;

// |value|, in unsigned so that the most negative value is right too.
Unsigned128 Magnitude(CentsSum value) {
  return value < 0 ? Unsigned128{0} - static_cast<Unsigned128>(value)
                   : static_cast<Unsigned128>(value);
}

void AppendDigits(Unsigned128 value, std::string* out) {
  char digits[48];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value > 0);
  while (n > 0) out->push_back(digits[--n]);
}

}  // namespace

void AppendWholeNumber(CentsSum value, std::string* out) {
  if (value < 0) out->push_back('-');
  AppendDigits(Magnitude(value), out);
}

void AppendCents(CentsSum cents, std::string* out) {
  const Unsigned128 magnitude = Magnitude(cents);
  if (cents < 0) out->push_back('-');
  AppendDigits(magnitude / 100, out);
  out->push_back('.');
  out->push_back(
      static_cast<char>('0' + static_cast<int>(magnitude % 100 / 10)));
  out->push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
}

std::string FormatCents(CentsSum cents) {
  std::string out;
  AppendCents(cents, &out);
  return out;
}

CentsSum DivideRoundHalfAwayFromZero(CentsSum numerator, CentsSum denominator) {
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  CentsSum quotient = numerator / denominator;
  CentsSum remainder = numerator % denominator;
  // |remainder| * 2 >= denominator rounds away from zero; compared without
  // doubling so that nothing overflows.
  CentsSum abs_remainder = remainder < 0 ? -remainder : remainder;
  if (abs_remainder >= denominator - abs_remainder) {
    quotient += numerator < 0 ? -1 : 1;
  }
  return quotient;
}

}  // namespace tillstream
