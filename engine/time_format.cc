#include "engine/time_format.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tillstream {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at text[*pos].
bool ReadDigits(absl::string_view text, size_t* pos, int width, int* value) {
  if (*pos + width > text.size()) return false;
  int v = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += width;
  *value = v;
  return true;
}

bool Expect(absl::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

unsigned DaysInMonth(int year, int month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

void AppendPadded(int64_t value, int width, std::string* out) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  for (int i = n; i < width; ++i) out->push_back('0');
  while (n > 0) out->push_back(buf[--n]);
}

}  // namespace

// Howard Hinnant's days_from_civil algorithm.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2);
}

absl::StatusOr<Timestamp> ParseRfc3339(absl::string_view text) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ts \"", text.substr(0, 64), "\" is not RFC 3339: ", what));
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !Expect(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day)) {
    return bad("expected YYYY-MM-DD");
  }
  if (pos >= text.size() ||
      (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return bad("expected 'T' after the date");
  }
  ++pos;
  if (!ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !Expect(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return bad("expected hh:mm:ss");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return bad("day out of range");
  }
  // Second 60 (a leap second) is folded into 59, as most systems do.
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");
  if (second == 60) second = 59;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad("expected digits after '.'");
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!ReadDigits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') ||
        !ReadDigits(text, &pos, 2, &om) || oh > 23 || om > 59) {
      return bad("bad UTC offset");
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("missing time zone ('Z' or +hh:mm)");
  }
  if (pos != text.size()) return bad("trailing characters");
  int64_t days = DaysFromCivil(year, month, day);
  int64_t ms = days * kMillisPerDay +
               ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000LL +
               millis;
  return Timestamp::FromMillis(ms);
}

void AppendRfc3339(Timestamp t, std::string* out) {
  if (t.is_min()) {
    out->append("-infinity");
    return;
  }
  if (t.is_max()) {
    out->append("+infinity");
    return;
  }
  int64_t ms = t.millis();
  int64_t days =
      ms >= 0 ? ms / kMillisPerDay : (ms - kMillisPerDay + 1) / kMillisPerDay;
  int64_t in_day = ms - days * kMillisPerDay;
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, &year, &month, &day);
  if (year < 0) out->push_back('-');
  AppendPadded(year < 0 ? -year : year, 4, out);
  out->push_back('-');
  AppendPadded(month, 2, out);
  out->push_back('-');
  AppendPadded(day, 2, out);
  out->push_back('T');
  AppendPadded(in_day / 3'600'000, 2, out);
  out->push_back(':');
  AppendPadded(in_day / 60'000 % 60, 2, out);
  out->push_back(':');
  AppendPadded(in_day / 1000 % 60, 2, out);
  if (in_day % 1000 != 0) {
    out->push_back('.');
    AppendPadded(in_day % 1000, 3, out);
  }
  out->push_back('Z');
}

std::string FormatRfc3339(Timestamp t) {
  std::string out;
  AppendRfc3339(t, &out);
  return out;
}

absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration \"", text, "\": ", what,
                     " (expected e.g. 500ms, 5s, 15m, 1h, 1d, 1h30m)"));
  };
  if (text == "0") return 0;
  if (text.empty()) return bad("empty");
  int64_t total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!IsDigit(text[pos])) return bad("expected a number");
    int64_t number = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (__builtin_mul_overflow(number, 10, &number) ||
          __builtin_add_overflow(number, text[pos] - '0', &number)) {
        return bad("too large");
      }
      ++pos;
    }
    size_t unit_start = pos;
    while (pos < text.size() && !IsDigit(text[pos])) ++pos;
    absl::string_view unit = text.substr(unit_start, pos - unit_start);
    int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = kMillisPerDay;
    } else if (unit == "w") {
      scale = 7 * kMillisPerDay;
    } else if (unit.empty()) {
      return bad("missing unit");
    } else {
      return bad(absl::StrCat("unknown unit \"", unit, "\""));
    }
    if (__builtin_mul_overflow(number, scale, &number) ||
        __builtin_add_overflow(total, number, &total)) {
      return bad("too large");
    }
  }
  return total;
}

}  // namespace tillstream
