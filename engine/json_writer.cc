#include "engine/json_writer.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if invalid.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  auto continuation = [&](size_t k) {
    return k < text.size() && (byte(k) & 0xC0) == 0x80;
  };
  uint8_t lead = byte(i);
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(i + 1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(i + 1) || !continuation(i + 2)) return 0;
    uint8_t second = byte(i + 1);
    if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
    if (lead == 0xED && second > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3))
      return 0;
    uint8_t second = byte(i + 1);
    if (lead == 0xF0 && second < 0x90) return 0;
    if (lead == 0xF4 && second > 0x8F) return 0;
    return 4;
  }
  return 0;
}

void AppendHexEscape(uint8_t c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\u00");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xF]);
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(text, i);
      if (n == 0) {
        AppendHexEscape(c, out);
        ++i;
      } else {
        out->append(text.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          AppendHexEscape(c, out);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void AppendSourceJson(const SourcePosition& source, std::string* out) {
  if (source.kind == SourceKind::kFile) {
    out->append("{\"file\":");
    AppendJsonString(source.topic, out);
    absl::StrAppend(out, ",\"line\":", source.offset.value, "}");
  } else {
    out->append("{\"topic\":");
    AppendJsonString(source.topic, out);
    absl::StrAppend(out, ",\"partition\":", source.partition.value,
                    ",\"offset\":", source.offset.value, "}");
  }
}

void AppendOutputId(absl::string_view rule, absl::string_view group,
                    Timestamp start, std::string* out) {
  std::string id;
  id.reserve(rule.size() + group.size() + 26);
  id.append(rule.data(), rule.size());
  id.push_back('|');
  id.append(group.data(), group.size());
  id.push_back('|');
  AppendRfc3339(start, &id);
  out->append(",\"id\":");
  AppendJsonString(id, out);
}

}  // namespace tillstream
