#ifndef TILLSTREAM_ENGINE_JSON_WRITER_H_
#define TILLSTREAM_ENGINE_JSON_WRITER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "engine/order_event.h"

namespace tillstream {

// Appends `text` as a quoted JSON string. Bytes that are not valid UTF-8 are
// written as \u00XX escapes of their byte value, so the output is always
// valid JSON and never loses which bytes were there.
void AppendJsonString(absl::string_view text, std::string* out);

// Appends a record's origin as a JSON object: {"topic":..,"partition":..,
// "offset":..} for Kafka, {"file":..,"line":..} for a file.
void AppendSourceJson(const SourcePosition& source, std::string* out);

// Appends ,"id":"RULE|GROUP|START": the deterministic id of an output that
// stands for one (rule, group, window): a replay after a crash re-emits
// the same id, so consumers and compacted topics keep the last record per id.
void AppendOutputId(absl::string_view rule, absl::string_view group,
                    Timestamp start, std::string* out);

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_JSON_WRITER_H_
