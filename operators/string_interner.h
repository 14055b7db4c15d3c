#ifndef TILLSTREAM_OPERATORS_STRING_INTERNER_H_
#define TILLSTREAM_OPERATORS_STRING_INTERNER_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <utility>

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
    const uint32_t next_id = static_cast<uint32_t>(strings_.size());
    if (ShortKey::Fits(text)) {
      auto [it, added] = short_ids_.try_emplace(ShortKey(text), next_id);
      if (inserted != nullptr) *inserted = added;
      if (added) strings_.emplace_back(text);
      return it->second;
    }
    auto it = long_ids_.find(text);
    if (inserted != nullptr) *inserted = it == long_ids_.end();
    if (it != long_ids_.end()) return it->second;
    strings_.emplace_back(text);
    long_ids_.emplace(strings_.back(), next_id);  // views the deque's copy
    return next_id;
  }
  // Starts loading what Intern(text) will read, so that a caller who knows
  // its next strings a little ahead overlaps their cache misses.
  void Prefetch(absl::string_view text) const {
    if (ShortKey::Fits(text)) {
      short_ids_.prefetch(ShortKey(text));
    } else {
      long_ids_.prefetch(text);
    }
  }
  // The id of `text` if it was interned, else null.
  const uint32_t* Find(absl::string_view text) const {
    if (ShortKey::Fits(text)) {
      auto it = short_ids_.find(ShortKey(text));
      return it == short_ids_.end() ? nullptr : &it->second;
    }
    auto it = long_ids_.find(text);
    return it == long_ids_.end() ? nullptr : &it->second;
  }
  absl::string_view Lookup(uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  // A string of up to 15 bytes held in the table's slot itself (its length
  // in the top byte), as most ids are: finding it compares two words of the
  // slot the lookup has loaded anyway, where a string_view key cost a second
  // cache miss on the bytes it points to. The slot stays 24 bytes. The words
  // are assembled from loads that stay within the string, never through a
  // buffer written byte by byte (reading that back stalls the CPU).
  struct ShortKey {
    static bool Fits(absl::string_view text) { return text.size() < 16; }
    explicit ShortKey(absl::string_view text) {
      static_assert(std::endian::native == std::endian::little);
      const char* p = text.data();
      const size_t n = text.size();
      uint64_t low = 0, high = 0;
      if (n >= 8) {
        low = Load<uint64_t>(p);
        // Bytes 8..n-1, from a load that ends at the string's end.
        if (n > 8) high = Load<uint64_t>(p + n - 8) >> (8 * (16 - n));
      } else if (n >= 4) {  // two loads overlapping on equal bytes
        low = Load<uint32_t>(p) | uint64_t{Load<uint32_t>(p + n - 4)}
                                      << (8 * (n - 4));
      } else if (n > 0) {
        low = uint64_t{static_cast<uint8_t>(p[0])} |
              uint64_t{static_cast<uint8_t>(p[n / 2])} << (8 * (n / 2)) |
              uint64_t{static_cast<uint8_t>(p[n - 1])} << (8 * (n - 1));
      }
      words[0] = low;
      words[1] = high | uint64_t{n} << 56;
    }
    template <typename Word>
    static Word Load(const char* p) {
      Word word;
      std::memcpy(&word, p, sizeof(word));
      return word;
    }
    friend bool operator==(const ShortKey& a, const ShortKey& b) {
      return a.words[0] == b.words[0] && a.words[1] == b.words[1];
    }
    template <typename H>
    friend H AbslHashValue(H state, const ShortKey& key) {
      return H::combine(std::move(state), key.words[0], key.words[1]);
    }
    uint64_t words[2];
  };

  std::deque<std::string> strings_;  // by id; deque: views stay valid
  absl::flat_hash_map<ShortKey, uint32_t> short_ids_;
  absl::flat_hash_map<absl::string_view, uint32_t> long_ids_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_STRING_INTERNER_H_
