#include "engine/dead_letter.h"

#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"

namespace tillstream {

void AppendDeadLetter(absl::string_view pipeline, const SourcePosition& source,
                      absl::string_view reason, absl::string_view payload,
                      OutputBatch* out) {
  const std::string key = absl::StrCat(
      source.topic, "/", source.partition.value, "/", source.offset.value);
  out->BeginRecord(OutputKind::kDeadLetter, key);
  std::string* json = out->value();
  json->append("{\"type\":\"deadletter\",\"pipeline\":");
  AppendJsonString(pipeline, json);
  json->append(",\"reason\":");
  AppendJsonString(reason, json);
  json->append(",\"source\":");
  AppendSourceJson(source, json);
  json->append(",\"payload\":");
  AppendJsonString(payload, json);
  json->append(",\"id\":");
  AppendJsonString(key, json);
  json->push_back('}');
  out->EndRecord();
}

void CountReason(absl::string_view reason,
                 absl::flat_hash_map<std::string, int64_t>* by_reason) {
  auto it = by_reason->find(reason);
  if (it != by_reason->end()) {
    ++it->second;
  } else if (by_reason->size() < kMaxReasons) {
    by_reason->emplace(reason, 1);
  } else {
    ++(*by_reason)["(other reasons)"];
  }
}

}  // namespace tillstream
