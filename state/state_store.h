#ifndef TILLSTREAM_STATE_STATE_STORE_H_
#define TILLSTREAM_STATE_STATE_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tillstream {

// Writes to apply atomically: all of them or none.
class StateWriteBatch {
 public:
  struct Write {
    std::string family;
    std::string key;
    std::optional<std::string> value;  // nullopt = delete
  };
  void Put(absl::string_view family, absl::string_view key,
           absl::string_view value) {
    writes_.push_back(
        {std::string(family), std::string(key), std::string(value)});
  }
  void Delete(absl::string_view family, absl::string_view key) {
    writes_.push_back({std::string(family), std::string(key), std::nullopt});
  }
  void Add(Write write) { writes_.push_back(std::move(write)); }
  const std::vector<Write>& writes() const { return writes_; }
  std::vector<Write> TakeWrites() && { return std::move(writes_); }
  bool empty() const { return writes_.empty(); }

 private:
  std::vector<Write> writes_;
};

// Durable keyed state: byte keys and values in named column families (one per
// operator; keys prefixed by source partition). Operators keep their hot state
// in memory and hand the store one batch per checkpoint: the store is never
// touched per event. Implementations are thread-compatible: one writer.
class StateStore {
 public:
  virtual ~StateStore() = default;
  [[nodiscard]] virtual absl::Status Write(const StateWriteBatch& batch) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view family, absl::string_view key) = 0;
  // Calls `visit` for every key of `family` starting with `prefix`, in key
  // order.
  [[nodiscard]] virtual absl::Status Scan(
      absl::string_view family, absl::string_view prefix,
      absl::FunctionRef<void(absl::string_view key, absl::string_view value)>
          visit) = 0;
};

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_STATE_STORE_H_
