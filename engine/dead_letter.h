#ifndef TILLSTREAM_ENGINE_DEAD_LETTER_H_
#define TILLSTREAM_ENGINE_DEAD_LETTER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "engine/order_event.h"
#include "engine/output_batch.h"

namespace tillstream {

// Appends the dead-letter record of a bad input record to `out`: the
// reason, where the record was and its bytes, keyed and identified by its
// position (a replay writes the same id).
void AppendDeadLetter(absl::string_view pipeline, const SourcePosition& source,
                      absl::string_view reason, absl::string_view payload,
                      OutputBatch* out);

// Counts one bad record under `reason`. Reasons quote values, so a hostile
// producer could make them unbounded: the first kMaxReasons distinct ones
// are counted apart, the rest together.
inline constexpr size_t kMaxReasons = 1000;
void CountReason(absl::string_view reason,
                 absl::flat_hash_map<std::string, int64_t>* by_reason);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_DEAD_LETTER_H_
