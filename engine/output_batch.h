#ifndef TILLSTREAM_ENGINE_OUTPUT_BATCH_H_
#define TILLSTREAM_ENGINE_OUTPUT_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tillstream {

// Which output of the pipeline file (`outputs:`) a record goes to.
enum class OutputKind : uint8_t {
  kKpis,
  kRolling,
  kAlerts,
  kDeadLetter,
  kLate
};
inline constexpr int kOutputKindCount = 5;

// Output records of one input batch, in emission order: keys and values
// packed into one buffer so that emitting does not allocate per record once
// the batch has warmed up. Operators append; a sink reads the whole batch.
//
//   batch.BeginRecord(OutputKind::kKpis, "store_id=s-1");
//   batch.value()->append("{...}");
//   batch.EndRecord();
class OutputBatch {
 public:
  struct Record {
    OutputKind kind;
    absl::string_view key;
    absl::string_view value;
  };

  // Starts a record; write its JSON to *value(), then call EndRecord().
  void BeginRecord(OutputKind kind, absl::string_view key) {
    entries_.push_back({kind, bytes_.size(), key.size(), 0, 0});
    bytes_.append(key.data(), key.size());
    entries_.back().value_begin = bytes_.size();
  }
  std::string* value() { return &bytes_; }
  void EndRecord() {
    Entry& e = entries_.back();
    e.value_size = bytes_.size() - e.value_begin;
  }

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  Record operator[](size_t i) const {
    const Entry& e = entries_[i];
    return {e.kind, absl::string_view(bytes_).substr(e.key_begin, e.key_size),
            absl::string_view(bytes_).substr(e.value_begin, e.value_size)};
  }
  size_t byte_size() const { return bytes_.size(); }
  void Clear() {
    entries_.clear();
    bytes_.clear();
  }

 private:
  struct Entry {
    OutputKind kind;
    size_t key_begin, key_size, value_begin, value_size;
  };
  std::vector<Entry> entries_;
  std::string bytes_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_OUTPUT_BATCH_H_
