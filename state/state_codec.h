#ifndef TILLSTREAM_STATE_STATE_CODEC_H_
#define TILLSTREAM_STATE_STATE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace tillstream {

// Appends values to a byte string in a compact, portable form: varints for
// integers (zig-zag for signed), length-prefixed bytes. The format of a
// checkpoint record is the order its writer appends in; the reader reads in
// the same order. Only for state written and read by the same build family:
// a record starts with a version byte its owner checks.
class StateEncoder {
 public:
  explicit StateEncoder(std::string* out) : out_(out) {}

  void U64(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I64(int64_t v) {
    U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void I128(__int128 v) {
    I64(static_cast<int64_t>(v >> 64));
    U64(static_cast<uint64_t>(v));
  }
  void Bool(bool v) { out_->push_back(v ? 1 : 0); }
  void Double(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    U64(bits);
  }
  void Bytes(absl::string_view v) {
    U64(v.size());
    out_->append(v.data(), v.size());
  }

 private:
  std::string* out_;
};

// Reads what a StateEncoder wrote. A read past the end or a malformed
// varint sets ok() false and yields zeros: callers read everything, then
// check ok() once.
class StateDecoder {
 public:
  explicit StateDecoder(absl::string_view in) : in_(in) {}

  uint64_t U64() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return Fail();
      const uint8_t byte = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t I64() {
    const uint64_t v = U64();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  __int128 I128() {
    const int64_t high = I64();
    const uint64_t low = U64();
    return (static_cast<__int128>(high) << 64) | low;
  }
  bool Bool() {
    if (in_.empty()) return Fail() != 0;
    const char c = in_.front();
    in_.remove_prefix(1);
    return c != 0;
  }
  double Double() {
    const uint64_t bits = U64();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
  }
  absl::string_view Bytes() {
    const uint64_t size = U64();
    if (size > in_.size()) {
      Fail();
      return {};
    }
    absl::string_view v = in_.substr(0, size);
    in_.remove_prefix(size);
    return v;
  }
  // A count of elements about to be read, each at least one byte: a corrupt
  // count cannot make the caller reserve more than the record holds.
  size_t Count() {
    const uint64_t n = U64();
    if (n > in_.size()) {
      Fail();
      return 0;
    }
    return static_cast<size_t>(n);
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }

 private:
  uint64_t Fail() {
    ok_ = false;
    in_ = {};
    return 0;
  }
  absl::string_view in_;
  bool ok_ = true;
};

// A key that sorts numerically under bytewise comparison (RocksDB's order):
// the sign bit flipped, big-endian.
inline void AppendOrderedKey(int64_t v, std::string* out) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(u >> shift));
}
inline int64_t ReadOrderedKey(absl::string_view key) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i)
    u = (u << 8) | static_cast<uint8_t>(key[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_STATE_CODEC_H_
