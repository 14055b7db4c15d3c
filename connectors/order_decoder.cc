#include "connectors/order_decoder.h"

#include <cstring>
#include <span>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/money.h"
#include "engine/pipeline_config.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::value;

absl::Status Bad(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// `token` without the JSON whitespace (only these four) simdjson leaves at
// the end of a raw token.
std::string_view WithoutTrailingSpace(std::string_view token) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' ||
                            token.back() == '\r' || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  return token;
}

// The string `v` holds: the bytes between its quotes when it has no escape
// (a view of the parsed bytes, no copy; stage 1 has validated their UTF-8
// and that no control character is unescaped), else unescaped into the
// parser's string buffer. `record_has_backslash` false spares the scan.
simdjson::error_code StringOf(value& v, bool record_has_backslash,
                              std::string_view* text) {
  const std::string_view token = WithoutTrailingSpace(v.raw_json_token());
  if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
    const std::string_view inside = token.substr(1, token.size() - 2);
    if (!record_has_backslash || inside.find('\\') == std::string_view::npos) {
      *text = inside;
      return simdjson::SUCCESS;
    }
  }
  return v.get_string().get(*text);
}

// The key of `field`, which lies before `end`: its bytes up to the closing
// quote when they hold no escape (no copy), else unescaped.
simdjson::error_code KeyOf(simdjson::ondemand::field& field, const char* end,
                           std::string_view* key) {
  const char* start = field.key().raw();
  const void* quote = std::memchr(start, '"', end - start);
  if (quote != nullptr) {
    const std::string_view raw(start, static_cast<const char*>(quote) - start);
    if (raw.find('\\') == std::string_view::npos) {
      *key = raw;
      return simdjson::SUCCESS;
    }
  }
  return field.unescaped_key().get(*key);
}

absl::string_view ShortJsonError(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::UNCLOSED_STRING:
      return "unclosed string";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "truncated document";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "bad literal";
    case simdjson::NUMBER_ERROR:
      return "bad number";
    case simdjson::STRING_ERROR:
      return "bad string escape";
    case simdjson::UNESCAPED_CHARS:
      return "control character in string";
    case simdjson::DEPTH_ERROR:
      return "nested too deep (limits.max_depth)";
    case simdjson::CAPACITY:
      return "document too large";
    default:
      return "unexpected structure";
  }
}

// Walks a value the decoder does not use, so that invalid JSON inside an
// ignored field is still a bad record (on-demand parsing would skip it).
// On error, *where is the start of the innermost value that failed.
// `depth` is the nesting of `v` (the root object is 1); deeper than
// `max_depth` is an error, which also bounds this recursion.
simdjson::error_code ValidateIgnored(value v, const char** where, int64_t depth,
                                     int64_t max_depth) {
  *where = v.raw_json_token().data();
  if (depth > max_depth) return simdjson::DEPTH_ERROR;
  json_type type;
  if (auto error = v.type().get(type)) return error;
  switch (type) {
    case json_type::object: {
      simdjson::ondemand::object object;
      if (auto error = v.get_object().get(object)) return error;
      for (auto field_result : object) {
        simdjson::ondemand::field field;
        if (auto error = std::move(field_result).get(field)) return error;
        std::string_view key;
        if (auto error = field.unescaped_key().get(key)) return error;
        if (auto error =
                ValidateIgnored(field.value(), where, depth + 1, max_depth))
          return error;
      }
      return simdjson::SUCCESS;
    }
    case json_type::array: {
      simdjson::ondemand::array array;
      if (auto error = v.get_array().get(array)) return error;
      for (auto element_result : array) {
        value element;
        if (auto error = std::move(element_result).get(element)) return error;
        if (auto error = ValidateIgnored(element, where, depth + 1, max_depth))
          return error;
      }
      return simdjson::SUCCESS;
    }
    case json_type::number: {
      double number;
      return v.get_double().get(number);
    }
    case json_type::string: {
      std::string_view text;
      return v.get_string().get(text);
    }
    case json_type::boolean: {
      bool flag;
      return v.get_bool().get(flag) ? simdjson::T_ATOM_ERROR
                                    : simdjson::SUCCESS;
    }
    case json_type::null: {
      bool is_null = false;
      if (auto error = v.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

// Top-level fields, as bits, to spot missing and duplicate ones.
enum Field : uint32_t {
  kOrderId = 1 << 0,
  kTs = 1 << 1,
  kStoreId = 1 << 2,
  kRegion = 1 << 3,
  kCustomerId = 1 << 4,
  kChannel = 1 << 5,
  kCurrency = 1 << 6,
  kStatus = 1 << 7,
  kLines = 1 << 8,
};

enum LineField : uint32_t {
  kSku = 1 << 0,
  kCategory = 1 << 1,
  kQty = 1 << 2,
  kUnitPrice = 1 << 3,
  kUnitCost = 1 << 4,
};

struct NamedField {
  std::string_view name;
  uint32_t bit;
};

// In the order producers usually write them: the first match comes early.
constexpr NamedField kTopLevelFields[] = {{"order_id", kOrderId},
                                          {"ts", kTs},
                                          {"store_id", kStoreId},
                                          {"region", kRegion},
                                          {"customer_id", kCustomerId},
                                          {"channel", kChannel},
                                          {"currency", kCurrency},
                                          {"status", kStatus},
                                          {"lines", kLines}};
constexpr NamedField kLineFields[] = {{"sku", kSku},
                                      {"category", kCategory},
                                      {"qty", kQty},
                                      {"unit_price", kUnitPrice},
                                      {"unit_cost", kUnitCost}};

// The bit of the field in `fields` that `field`'s key names, or 0 for an
// unknown key. Compares the raw bytes after the opening quote first, which
// needs no scan for the closing quote: a name followed by a quote is the
// whole key, since no name ends in a backslash, and the bytes read lie in
// the record or in the padding after it. A key spelled with escapes takes
// the slow way, unescaped.
simdjson::error_code FieldOf(simdjson::ondemand::field& field,
                             std::span<const NamedField> fields,
                             const char* end, uint32_t* bit) {
  const char* raw = field.key().raw();
  for (const NamedField& named : fields) {
    if (raw[0] == named.name[0] &&
        std::memcmp(raw, named.name.data(), named.name.size()) == 0 &&
        raw[named.name.size()] == '"') {
      *bit = named.bit;
      return simdjson::SUCCESS;
    }
  }
  *bit = 0;
  std::string_view key;
  if (auto error = KeyOf(field, end, &key)) return error;
  for (const NamedField& named : fields) {
    if (key == named.name) *bit = named.bit;
  }
  return simdjson::SUCCESS;
}

absl::string_view NameOf(uint32_t bit, std::span<const NamedField> fields) {
  for (const NamedField& named : fields) {
    if (named.bit == bit) return {named.name.data(), named.name.size()};
  }
  return "";
}

}  // namespace

OrderDecoder::OrderDecoder(OrderDecoderOptions options)
    : options_(std::move(options)) {
  lines_.reserve(64);
  // Deeper nesting than the limit fails in the parser, before any work.
  if (parser_.allocate(static_cast<size_t>(options_.limits.max_record_bytes),
                       static_cast<size_t>(options_.limits.max_depth)) !=
      simdjson::SUCCESS) {
    options_.limits.max_record_bytes =
        0;  // every record will be refused as too large
  }
}

void OrderDecoder::SetWallClock(int64_t epoch_ms) {
  max_ts_ms_ = epoch_ms > INT64_MAX - options_.limits.max_future_ms
                   ? INT64_MAX
                   : epoch_ms + options_.limits.max_future_ms;
}

std::string OrderDecoder::FieldName::Spell() const {
  if (line < 0) return std::string(field);
  return absl::StrCat("lines[", line, "].", field);
}

// Reads a required non-empty string of at most limits.max_string_bytes.
absl::Status OrderDecoder::ReadString(value& v, const FieldName& field,
                                      absl::string_view* out,
                                      bool allow_empty) const {
  auto name = [&] { return field.Spell(); };
  json_type type;
  if (v.type().get(type) || type != json_type::string) {
    return Bad(absl::StrCat(name(), " must be a string"));
  }
  std::string_view text;
  if (StringOf(v, record_has_backslash_, &text)) {
    return Bad(absl::StrCat(name(), " is not a valid JSON string"));
  }
  if (static_cast<int64_t>(text.size()) > options_.limits.max_string_bytes) {
    return Bad(absl::StrCat(
        name(), " is ", text.size(), " bytes, over the limit of ",
        options_.limits.max_string_bytes, " (limits.max_string_bytes)"));
  }
  *out = absl::string_view(text.data(), text.size());
  if (!allow_empty && out->empty()) {
    return Bad(absl::StrCat(name(), " must not be empty"));
  }
  return absl::OkStatus();
}

// Reads a decimal money value given as a string or a JSON number, at most
// limits.max_unit_price.
absl::Status OrderDecoder::ReadCents(value& v, const FieldName& field,
                                     int64_t* cents) const {
  auto name = [&] { return field.Spell(); };
  json_type type;
  if (v.type().get(type))
    return Bad(absl::StrCat(name(), " is not valid JSON"));
  std::string_view text;
  if (type == json_type::string) {
    if (StringOf(v, record_has_backslash_, &text)) {
      return Bad(absl::StrCat(name(), " is not a valid JSON string"));
    }
  } else if (type == json_type::number) {
    text = WithoutTrailingSpace(v.raw_json_token());
  } else {
    return Bad(absl::StrCat(name(), " must be a decimal string or number"));
  }
  const absl::string_view digits(text.data(), text.size());
  absl::StatusOr<int64_t> parsed = ParseCents(digits, field.field);
  // Parsed again for the message, under the field's full name.
  if (!parsed.ok()) return ParseCents(digits, name()).status();
  if (*parsed > options_.limits.max_unit_price_cents) {
    return Bad(absl::StrCat(name(), " ", FormatCents(*parsed),
                            " is over the limit of ",
                            FormatCents(options_.limits.max_unit_price_cents),
                            " (limits.max_unit_price)"));
  }
  *cents = *parsed;
  return absl::OkStatus();
}

absl::Status OrderDecoder::JsonError(simdjson::error_code error,
                                     const char* location) const {
  // An unclosed object or array is noticed at its start; the fault is the end.
  if (error == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
    return Bad(absl::StrCat("invalid JSON at byte ", payload_size_,
                            ": truncated document"));
  }
  if (location != nullptr && location >= json_ &&
      location <= json_ + payload_size_) {
    return Bad(absl::StrCat("invalid JSON at byte ", location - json_, ": ",
                            ShortJsonError(error)));
  }
  return Bad(absl::StrCat("invalid JSON: ", ShortJsonError(error)));
}

absl::Status OrderDecoder::CheckSize(absl::string_view payload) const {
  if (payload.empty()) return Bad("empty record");
  if (static_cast<int64_t>(payload.size()) > options_.limits.max_record_bytes) {
    return Bad(absl::StrCat(
        "record is ", payload.size(), " bytes, over the limit of ",
        options_.limits.max_record_bytes, " (limits.max_record_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status OrderDecoder::Decode(absl::string_view payload,
                                  OrderEvent* event) {
  if (absl::Status size = CheckSize(payload); !size.ok()) return size;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: a padded copy.
  const size_t capacity = payload.size() + simdjson::SIMDJSON_PADDING;
  if (padded_.size() < capacity) padded_.resize(capacity);
  std::memcpy(padded_.data(), payload.data(), payload.size());
  std::memset(padded_.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  return Parse(payload, padded_.data(), capacity, event);
}

absl::Status OrderDecoder::DecodeInPlace(absl::string_view payload,
                                         OrderEvent* event) {
  // What follows the payload in its buffer (the next record, librdkafka's
  // bookkeeping) is read by simdjson's wide loads and ignored: it only has
  // to be mapped, which it is when it lies on the payload's last page (4 KiB
  // is the smallest page size there is).
  constexpr uintptr_t kPage = 4096;
  const uintptr_t last =
      reinterpret_cast<uintptr_t>(payload.data()) + payload.size() - 1;
  if (last / kPage != (last + simdjson::SIMDJSON_PADDING) / kPage) {
    return Decode(payload, event);  // which checks the size itself
  }
  if (absl::Status size = CheckSize(payload); !size.ok()) return size;
  return Parse(payload, payload.data(),
               payload.size() + simdjson::SIMDJSON_PADDING, event);
}

absl::Status OrderDecoder::Parse(absl::string_view payload, const char* json,
                                 size_t capacity, OrderEvent* event) {
  payload_size_ = payload.size();
  json_ = json;
  record_has_backslash_ = std::memchr(json, '\\', payload.size()) != nullptr;
  simdjson::ondemand::document doc;
  if (auto error = parser_.iterate(json, payload.size(), capacity).get(doc)) {
    return JsonError(error, nullptr);
  }
  auto located_error = [&](simdjson::error_code error) {
    const char* location = nullptr;
    if (doc.current_location().get(location)) location = nullptr;
    return JsonError(error, location);
  };
  simdjson::ondemand::object object;
  if (auto error = doc.get_object().get(object)) {
    if (error == simdjson::INCORRECT_TYPE) {
      // Valid JSON of another kind, or not JSON at all? A full parse tells
      // (rare path: only records that are not objects get here).
      simdjson::dom::element root;
      if (auto dom_error =
              dom_parser_.parse(json, payload.size(), false).get(root)) {
        return Bad(absl::StrCat("invalid JSON: ", ShortJsonError(dom_error)));
      }
      return Bad("record is not a JSON object");
    }
    return located_error(error);
  }

  *event = OrderEvent{};
  event->payload = payload;
  event->region = "unknown";
  event->channel = "pos";
  event->currency = options_.default_currency;
  lines_.clear();
  uint32_t seen = 0;
  for (auto field_result : object) {
    if (auto error = field_result.error()) return located_error(error);
    // The field in place: copying it out stalled on store forwarding.
    auto&& field = std::move(field_result).value_unsafe();
    uint32_t bit;
    if (auto error =
            FieldOf(field, kTopLevelFields, json_ + payload_size_, &bit))
      return located_error(error);
    if (seen & bit) {
      return Bad(
          absl::StrCat("duplicate field ", NameOf(bit, kTopLevelFields)));
    }
    seen |= bit;
    value& v = field.value();
    absl::Status status;
    switch (bit) {
      case kOrderId:
        status = ReadString(v, "order_id", &event->order_id);
        break;
      case kStoreId:
        status = ReadString(v, "store_id", &event->store_id);
        break;
      case kTs: {
        json_type type;
        if (v.type().get(type)) return located_error(simdjson::TAPE_ERROR);
        if (type == json_type::number) {
          int64_t ms;
          if (v.get_int64().get(ms)) {
            status = Bad(
                "ts must be integer epoch milliseconds or an RFC 3339 string");
          } else {
            event->ts = Timestamp::FromMillis(ms);
          }
        } else if (type == json_type::string) {
          std::string_view text;
          if (StringOf(v, record_has_backslash_, &text)) {
            status = Bad("ts is not a valid JSON string");
          } else {
            absl::StatusOr<Timestamp> ts =
                ParseRfc3339(absl::string_view(text.data(), text.size()));
            if (ts.ok()) {
              event->ts = *ts;
            } else {
              status = ts.status();
            }
          }
        } else {
          status = Bad(
              "ts must be integer epoch milliseconds or an RFC 3339 string");
        }
        break;
      }
      case kRegion:
        status = ReadString(v, "region", &event->region);
        break;
      case kCustomerId: {
        bool is_null = false;
        if (v.is_null().get(is_null) == simdjson::SUCCESS && is_null) {
          event->customer_id = {};
          break;
        }
        json_type type;
        if (v.type().get(type) || type != json_type::string) {
          status = Bad("customer_id must be a string or null");
        } else {
          status = ReadString(v, "customer_id", &event->customer_id,
                              /*allow_empty=*/true);
        }
        break;
      }
      case kChannel:
        status = ReadString(v, "channel", &event->channel);
        break;
      case kCurrency:
        status = ReadString(v, "currency", &event->currency);
        break;
      case kStatus: {
        absl::string_view text;
        status = ReadString(v, "status", &text, /*allow_empty=*/true);
        if (!status.ok()) break;
        if (text == "completed") {
          event->status = OrderStatus::kCompleted;
        } else if (text == "refunded") {
          event->status = OrderStatus::kRefunded;
        } else if (text == "cancelled") {
          event->status = OrderStatus::kCancelled;
        } else {
          status = Bad(
              absl::StrCat("status \"", text.substr(0, 40),
                           "\" is not one of completed, refunded, cancelled"));
        }
        break;
      }
      case kLines:
        status = DecodeLines(v);
        break;
      default: {
        // Unknown fields are ignored (DESIGN.md), but must still be valid
        // JSON.
        const char* where = nullptr;
        if (auto error =
                ValidateIgnored(v, &where, 2, options_.limits.max_depth))
          return JsonError(error, where);
      }
    }
    if (!status.ok()) return status;
  }
  // Past the root object only the end may remain (simdjson reports it as
  // out of bounds); anything else is a second value or garbage.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
    return Bad("invalid JSON: trailing content after the object");
  }
  if (!(seen & kOrderId)) return Bad("missing field order_id");
  if (!(seen & kTs)) return Bad("missing field ts");
  if (!(seen & kStoreId)) return Bad("missing field store_id");
  if (!(seen & kLines)) return Bad("missing field lines");
  if (event->ts.millis() < options_.limits.min_ts_ms) {
    return Bad(absl::StrCat(
        "ts ", FormatRfc3339(event->ts), " is before limits.min_ts ",
        FormatRfc3339(Timestamp::FromMillis(options_.limits.min_ts_ms))));
  }
  if (event->ts.millis() > max_ts_ms_) {
    return Bad(absl::StrCat(
        "ts ", FormatRfc3339(event->ts),
        " is further in the future than limits.max_future allows"));
  }
  strings_in_scratch_ =
      json != payload.data() || record_has_backslash_ || !(seen & kCurrency);
  event->lines = lines_;
  for (const OrderLine& line : lines_) {
    int64_t amount =
        line.qty * line.unit_price_cents;  // checked in DecodeLines
    bool overflow = __builtin_add_overflow(event->totals.amount_cents, amount,
                                           &event->totals.amount_cents) ||
                    __builtin_add_overflow(event->totals.units, line.qty,
                                           &event->totals.units);
    if (line.has_cost) {
      int64_t margin = amount - line.qty * line.unit_cost_cents;
      overflow =
          overflow ||
          __builtin_add_overflow(event->totals.costed_amount_cents, amount,
                                 &event->totals.costed_amount_cents) ||
          __builtin_add_overflow(event->totals.margin_cents, margin,
                                 &event->totals.margin_cents);
    }
    if (overflow) return Bad("order amount is out of range");
  }
  return absl::OkStatus();
}

absl::Status OrderDecoder::DecodeLines(value& v) {
  simdjson::ondemand::array array;
  if (v.get_array().get(array)) return Bad("lines must be an array");
  size_t index = 0;
  for (auto element_result : array) {
    value element;
    if (auto error = element_result.get(element)) {
      return Bad(absl::StrCat("invalid JSON in lines[", index,
                              "]: ", ShortJsonError(error)));
    }
    auto name = [&](absl::string_view field) {
      return FieldName(index, field);
    };
    simdjson::ondemand::object object;
    if (element.get_object().get(object)) {
      return Bad(absl::StrCat("lines[", index, "] must be an object"));
    }
    OrderLine line;
    uint32_t seen = 0;
    for (auto field_result : object) {
      if (auto error = field_result.error()) {
        return Bad(absl::StrCat("invalid JSON in lines[", index,
                                "]: ", ShortJsonError(error)));
      }
      auto&& field = std::move(field_result).value_unsafe();
      uint32_t bit;
      if (FieldOf(field, kLineFields, json_ + payload_size_, &bit)) {
        return Bad(absl::StrCat("invalid JSON in lines[", index, "]"));
      }
      if (seen & bit) {
        return Bad(absl::StrCat("duplicate field ",
                                name(NameOf(bit, kLineFields)).Spell()));
      }
      seen |= bit;
      value& fv = field.value();
      absl::Status status;
      switch (bit) {
        case kSku:
          status = ReadString(fv, name("sku"), &line.sku);
          break;
        case kCategory:
          status = ReadString(fv, name("category"), &line.category,
                              /*allow_empty=*/true);
          break;
        case kQty: {
          json_type type;
          if (fv.type().get(type) || type != json_type::number ||
              fv.get_int64().get(line.qty)) {
            status =
                Bad(absl::StrCat(name("qty").Spell(), " must be an integer"));
          } else if (line.qty <= 0) {
            status = Bad(absl::StrCat(name("qty").Spell(), " must be > 0, got ",
                                      line.qty));
          } else if (line.qty > options_.limits.max_qty) {
            status = Bad(absl::StrCat(
                name("qty").Spell(), " ", line.qty, " is over the limit of ",
                options_.limits.max_qty, " (limits.max_qty)"));
          }
          break;
        }
        case kUnitPrice:
          status = ReadCents(fv, name("unit_price"), &line.unit_price_cents);
          break;
        case kUnitCost: {
          bool is_null = false;
          if (fv.is_null().get(is_null) == simdjson::SUCCESS && is_null) {
            line.has_cost = false;
          } else {
            status = ReadCents(fv, name("unit_cost"), &line.unit_cost_cents);
            line.has_cost = true;
          }
          break;
        }
        default: {
          const char* where = nullptr;
          if (auto error =
                  ValidateIgnored(fv, &where, 4, options_.limits.max_depth))
            return JsonError(error, where);
        }
      }
      if (!status.ok()) return status;
    }
    if (!(seen & kSku))
      return Bad(absl::StrCat("missing field ", name("sku").Spell()));
    if (!(seen & kQty))
      return Bad(absl::StrCat("missing field ", name("qty").Spell()));
    if (!(seen & kUnitPrice)) {
      return Bad(absl::StrCat("missing field ", name("unit_price").Spell()));
    }
    // Reject a line whose amount cannot be represented, so that no later sum
    // of sign x qty x price can start from an overflowed product.
    int64_t amount;
    if (__builtin_mul_overflow(line.qty, line.unit_price_cents, &amount) ||
        (line.has_cost &&
         __builtin_mul_overflow(line.qty, line.unit_cost_cents, &amount))) {
      return Bad(absl::StrCat("lines[", index, "] amount is out of range"));
    }
    if (static_cast<int64_t>(lines_.size()) >= options_.limits.max_lines) {
      return Bad(absl::StrCat("order has more than ", options_.limits.max_lines,
                              " lines (limits.max_lines)"));
    }
    lines_.push_back(line);
    ++index;
  }
  if (index == 0) return Bad("lines must have at least one line");
  return absl::OkStatus();
}

}  // namespace tillstream
