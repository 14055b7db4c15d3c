#ifndef TILLSTREAM_OPERATORS_STRING_INTERNER_H_
#define TILLSTREAM_OPERATORS_STRING_INTERNER_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tillstream {

// Maps strings to dense uint32 ids, so per-window state holds 4-byte ids
// instead of strings. Lookup of a known string does not allocate. Ids are
// stable for the interner's lifetime. Not thread-safe: one per worker.
//
//   uint32_t id = interner.Intern("c-000172");
//   absl::string_view s = interner.Lookup(id);
class StringInterner {
 public:
  // `*inserted` (if given) tells whether `text` was new.
  uint32_t Intern(absl::string_view text, bool* inserted = nullptr) {
    auto it = ids_.find(text);
    if (inserted != nullptr) *inserted = it == ids_.end();
    if (it != ids_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(strings_.size());
    strings_.emplace_back(text);
    ids_.emplace(strings_.back(), id);
    return id;
  }
  // Starts loading what Intern(text) will read, so that a caller who knows
  // its next strings a little ahead overlaps their cache misses.
  void Prefetch(absl::string_view text) const { ids_.prefetch(text); }
  absl::string_view Lookup(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::deque<std::string> strings_;  // deque: views in ids_ stay valid
  absl::flat_hash_map<absl::string_view, uint32_t> ids_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_STRING_INTERNER_H_
