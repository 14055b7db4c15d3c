// 100,000 mutations of valid orders through the pipeline: every record is
// accounted for, every good event is counted exactly once (by value, checked
// against an oracle written here on simdjson's DOM API, independent of the
// engine's decoder), and every bad one is a dead letter with a reason.
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/json_writer.h"
#include "examples/generator/traffic_generator.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

enum class Kind { kGood, kBad, kUnknown };

// The oracle's view of an accepted order: its signed amount and units.
struct OracleOrder {
  __int128 signed_cents = 0;
  __int128 signed_units = 0;
};

// Decimal with at most two fraction digits -> cents; nullopt otherwise.
std::optional<int64_t> OracleCents(std::string_view text) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? "" : text.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 17 &&
           std::all_of(s.begin(), s.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || (dot != std::string_view::npos &&
                         (!digits(fraction) || fraction.size() > 2))) {
    return std::nullopt;
  }
  int64_t w = std::stoll(std::string(whole));
  int64_t f = fraction.empty() ? 0
                               : std::stoll(std::string(fraction)) *
                                     (fraction.size() == 1 ? 10 : 1);
  return w * 100 + f;
}

// An independent reading of DESIGN.md's contract; nullopt = bad record.
// Deliberately simple: it must agree with the engine on everything the test
// asserts, not reproduce every reason.
std::optional<OracleOrder> Oracle(const std::string& record) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(record).get(root) || !root.is_object()) return std::nullopt;
  simdjson::dom::object object = root.get_object();
  std::map<std::string, simdjson::dom::element> fields;
  for (auto [key, value] : object) {
    if (!fields.emplace(std::string(key), value).second)
      return std::nullopt;  // duplicate
  }
  for (const char* required : {"order_id", "store_id"}) {
    if (!fields.count(required) || !fields[required].is_string() ||
        fields[required].get_string().value().empty()) {
      return std::nullopt;
    }
  }
  if (!fields.count("ts") || !fields.count("lines") ||
      !fields["lines"].is_array()) {
    return std::nullopt;
  }
  int sign = 1;
  if (fields.count("status")) {
    if (!fields["status"].is_string()) return std::nullopt;
    std::string_view status = fields["status"].get_string().value();
    if (status == "refunded") {
      sign = -1;
    } else if (status == "cancelled") {
      sign = 0;
    } else if (status != "completed") {
      return std::nullopt;
    }
  }
  OracleOrder order;
  size_t count = 0;
  for (simdjson::dom::element line : fields["lines"].get_array()) {
    ++count;
    if (!line.is_object()) return std::nullopt;
    simdjson::dom::element sku, qty, price;
    if (line["sku"].get(sku) || !sku.is_string()) return std::nullopt;
    if (line["qty"].get(qty) || !qty.is_int64() || qty.get_int64().value() <= 0)
      return std::nullopt;
    if (line["unit_price"].get(price)) return std::nullopt;
    std::string price_text = price.is_string()
                                 ? std::string(price.get_string().value())
                                 : simdjson::minify(price);
    std::optional<int64_t> cents = OracleCents(price_text);
    if (!cents) return std::nullopt;
    order.signed_cents +=
        static_cast<__int128>(sign) * qty.get_int64().value() * *cents;
    order.signed_units += sign * qty.get_int64().value();
  }
  if (count == 0) return std::nullopt;
  return order;
}

// Replaces the first `from` in `text` with `to`; false if there is none.
bool ReplaceFirst(std::string* text, std::string_view from,
                  std::string_view to) {
  size_t at = text->find(from);
  if (at == std::string::npos) return false;
  text->replace(at, from.size(), to);
  return true;
}

struct Mutant {
  std::string record;
  Kind kind;
};

Mutant Mutate(const std::string& valid, std::mt19937_64& rng) {
  std::string r = valid;
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  switch (pick(12)) {
    case 0:
      return {r, Kind::kGood};
    case 1:  // whitespace between tokens
      r.insert(1, " \t ");
      return {r, Kind::kGood};
    case 2:  // an unknown field
      r.insert(1, R"("note":{"promo":[1,2.5,null,"x"]},)");
      return {r, Kind::kGood};
    case 3: {  // a price as a JSON number instead of a string
      size_t at = r.find(R"("unit_price":")");
      size_t end = r.find('"', at + 14);
      r.erase(end, 1);
      r.erase(at + 13, 1);
      return {r, Kind::kGood};
    }
    case 4:  // truncated in flight: a strict prefix of an object is never valid
      r.resize(1 + pick(r.size() - 1));
      return {r, Kind::kBad};
    case 5:
      ReplaceFirst(&r, R"("qty":)", pick(2) ? R"("qty":-)" : R"("qty":0,"x":)");
      return {r, Kind::kBad};
    case 6: {
      size_t at = r.find(R"("unit_price":")");
      r.insert(at + 15, ",");
      return {r, Kind::kBad};
    }
    case 7:  // a byte that is not UTF-8 inside a string
      r.insert(r.find("o-") + 2, "\xff");
      return {r, Kind::kBad};
    case 8:
      ReplaceFirst(&r, R"("lines":[)", R"("lines":[],"x":[)");
      return {r, Kind::kBad};
    case 9:  // a duplicate field
      r.insert(1, R"("store_id":"s-dup",)");
      return {r, Kind::kBad};
    default: {  // random bytes: validity unknown, judged by the oracle
      for (int n = 1 + static_cast<int>(pick(3)); n > 0; --n) {
        size_t at = pick(r.size());
        switch (pick(3)) {
          case 0:
            r[at] = static_cast<char>(rng());
            break;
          case 1:
            r.erase(at, 1 + pick(4));
            break;
          default:
            r.insert(at, 1, "{}[]\",:0123456789-.eE tfn\\"[pick(26)]);
        }
        if (r.empty()) r = "x";
      }
      return {r, Kind::kUnknown};
    }
  }
}

TEST(MutationTest, EveryGoodEventCountedOnceEveryBadOneDeadLettered) {
  TrafficOptions options;
  options.orders = 20000;
  options.days = 10;
  options.late_rate = 0;
  TrafficGenerator generator(options);
  std::vector<std::string> valid;
  std::string record, key;
  while (generator.Next(&record, &key)) valid.push_back(record);

  std::mt19937_64 rng(20261121);
  std::vector<Mutant> mutants;
  for (int i = 0; i < 100000; ++i)
    mutants.push_back(Mutate(valid[i % valid.size()], rng));
  std::vector<std::string> records;
  for (const Mutant& m : mutants) records.push_back(m.record);

  // The wall clock stands just after the traffic, as in a live stream, so
  // limits.max_future refuses timestamps that random bytes moved years ahead.
  const int64_t now_ms =
      options.start.millis() + (options.days + 1) * 86'400'000LL;
  auto run = testing::RunPipeline(testing::PosAnalyticsConfig(), records, 1,
                                  1024, now_ms);
  const RunSummary& summary = run->summary;
  ASSERT_EQ(summary.records, 100000);
  EXPECT_EQ(summary.events + summary.bad_records,
            summary.records);  // nothing lost

  // Dead letters: one per bad record, each with a reason and the exact bytes.
  const auto& dead =
      run->sink.outputs[static_cast<int>(OutputKind::kDeadLetter)];
  ASSERT_EQ(static_cast<int64_t>(dead.size()), summary.bad_records);
  std::vector<bool> rejected(records.size(), false);
  simdjson::dom::parser parser;
  for (const std::string& line : dead) {
    simdjson::dom::element e = parser.parse(line);
    int64_t index = e["source"]["offset"].get_int64().value();
    ASSERT_GE(index, 0);
    ASSERT_LT(index, 100000);
    EXPECT_FALSE(rejected[index]) << "dead-lettered twice: " << index;
    rejected[index] = true;
    EXPECT_FALSE(e["reason"].get_string().value().empty());
    std::string payload;
    AppendJsonString(records[index], &payload);
    EXPECT_TRUE(
        absl::EndsWith(line, absl::StrCat(",\"payload\":", payload,
                                          ",\"id\":\"orders/0/", index, "\"}")))
        << line;
  }

  // Known classes, and the oracle for the rest.
  __int128 oracle_cents = 0, oracle_units = 0;
  std::map<Kind, int> counts;
  for (size_t i = 0; i < mutants.size(); ++i) {
    ++counts[mutants[i].kind];
    std::optional<OracleOrder> oracle = Oracle(mutants[i].record);
    switch (mutants[i].kind) {
      case Kind::kGood:
        EXPECT_FALSE(rejected[i])
            << "good record refused: " << mutants[i].record;
        break;
      case Kind::kBad:
        EXPECT_TRUE(rejected[i])
            << "bad record accepted: " << mutants[i].record;
        break;
      case Kind::kUnknown:
        // Whatever the engine accepts, the oracle must find valid.
        if (!rejected[i]) {
          EXPECT_TRUE(oracle.has_value()) << mutants[i].record;
        }
        break;
    }
    if (!rejected[i]) {
      ASSERT_TRUE(oracle.has_value()) << mutants[i].record;
      oracle_cents += oracle->signed_cents;
      oracle_units += oracle->signed_units;
    }
  }
  EXPECT_GT(counts[Kind::kGood], 30000);
  EXPECT_GT(counts[Kind::kBad], 45000);
  EXPECT_GT(counts[Kind::kUnknown], 10000);

  // Every accepted event is in exactly one store_day window or the late
  // output: the revenue and units of the final snapshots plus those of late
  // events equal the oracle's sums over the accepted records.
  __int128 kpi_cents = 0, kpi_units = 0;
  int64_t kpi_events = 0;
  for (const auto& [window, snapshot] :
       testing::FinalSnapshots(run->sink.kpis())) {
    if (!absl::StartsWith(window, "store_day|")) continue;
    simdjson::dom::element e = parser.parse(snapshot + "}");
    std::optional<int64_t> cents;
    std::string revenue(e["revenue"].get_string().value());
    bool negative = revenue[0] == '-';
    cents = OracleCents(negative ? revenue.substr(1) : revenue);
    ASSERT_TRUE(cents.has_value()) << revenue;
    kpi_cents += negative ? -*cents : *cents;
    kpi_units += e["units"].get_int64().value();
    kpi_events += e["orders"].get_int64().value() +
                  e["refunded_orders"].get_int64().value() +
                  e["cancelled_orders"].get_int64().value();
  }
  for (const std::string& line :
       run->sink.outputs[static_cast<int>(OutputKind::kLate)]) {
    simdjson::dom::element e = parser.parse(line);
    if (e["kpi"].get_string().value() != "store_day") continue;
    std::optional<OracleOrder> late =
        Oracle(std::string(e["payload"].get_string().value()));
    ASSERT_TRUE(late.has_value());
    kpi_cents += late->signed_cents;
    kpi_units += late->signed_units;
    ++kpi_events;
  }
  EXPECT_EQ(kpi_events, summary.events);
  EXPECT_TRUE(kpi_cents == oracle_cents);
  EXPECT_TRUE(kpi_units == oracle_units);
  std::printf(
      "mutations: %d good, %d bad, %d random; accepted %lld, dead letters "
      "%lld, late %lld\n",
      counts[Kind::kGood], counts[Kind::kBad], counts[Kind::kUnknown],
      static_cast<long long>(summary.events),
      static_cast<long long>(summary.bad_records),
      static_cast<long long>(summary.late_events));
}

}  // namespace
}  // namespace tillstream
