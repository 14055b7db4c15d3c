#ifndef TILLSTREAM_ENGINE_TIME_FORMAT_H_
#define TILLSTREAM_ENGINE_TIME_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/timestamp.h"

namespace tillstream {

// Parses an RFC 3339 date-time ("2024-01-01T09:30:00Z",
// "2024-01-01T10:30:00.125+01:00") into event time. Fractions beyond
// milliseconds are truncated. The error text says what is wrong.
absl::StatusOr<Timestamp> ParseRfc3339(absl::string_view text);

// Appends `t` as RFC 3339 UTC: "2024-01-01T00:00:00Z", with ".123" only when
// the milliseconds are not zero. -inf/+inf print as "-infinity"/"+infinity".
void AppendRfc3339(Timestamp t, std::string* out);
std::string FormatRfc3339(Timestamp t);

// Parses a duration: one or more <integer><unit> parts, unit one of ms, s, m,
// h, d, w ("5s", "1h30m", "1d"); or "0". Returns milliseconds, never negative.
absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text);

// Days since 1970-01-01 for a proleptic Gregorian civil date, and back.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_TIME_FORMAT_H_
