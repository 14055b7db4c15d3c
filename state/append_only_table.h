#ifndef TILLSTREAM_STATE_APPEND_ONLY_TABLE_H_
#define TILLSTREAM_STATE_APPEND_ONLY_TABLE_H_

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "state/state_codec.h"
#include "state/state_store.h"

namespace tillstream {

// A table that only grows, with dense ids from 0 (interned customers, group
// and SKU names), kept in a family as `prefix` + the id (8 bytes, ordered):
// a checkpoint writes the entries added since the last one, a restore reads
// them back in id order.

// The key of entry `id`.
inline std::string IdKey(char prefix, int64_t id) {
  std::string key(1, prefix);
  AppendOrderedKey(id, &key);
  return key;
}

// Puts entries *written .. size-1 (`value(id)` each) and advances *written.
inline void WriteNewEntries(StateWriteBatch* batch, absl::string_view family,
                            char prefix, size_t size, size_t* written,
                            absl::FunctionRef<std::string(size_t id)> value) {
  for (; *written < size; ++*written)
    batch->Put(family, IdKey(prefix, static_cast<int64_t>(*written)),
               value(*written));
}

// Calls `add(value)` for every entry in id order; `add` returns false for a
// value it cannot read. DataLoss "<what> has a gap" for a missing id or an
// unreadable value. Returns the number of entries read in *count.
inline absl::Status ReadEntries(StateStore* store, absl::string_view family,
                                char prefix, absl::string_view what,
                                absl::FunctionRef<bool(absl::string_view)> add,
                                size_t* count) {
  *count = 0;
  absl::Status status;
  absl::Status scanned = store->Scan(
      family, std::string(1, prefix),
      [&](absl::string_view key, absl::string_view value) {
        if (!status.ok()) return;
        if (ReadOrderedKey(key.substr(1)) != static_cast<int64_t>(*count) ||
            !add(value)) {
          status = absl::DataLossError(absl::StrCat(what, " has a gap"));
          return;
        }
        ++*count;
      });
  return scanned.ok() ? status : scanned;
}

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_APPEND_ONLY_TABLE_H_
