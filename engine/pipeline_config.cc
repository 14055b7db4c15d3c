#include "engine/pipeline_config.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "engine/json_writer.h"
#include "engine/money.h"
#include "engine/status_macros.h"
#include "engine/time_format.h"
#include "yaml-cpp/yaml.h"

namespace tillstream {

absl::string_view GroupFieldName(GroupField field) {
  switch (field) {
    case GroupField::kStoreId:
      return "store_id";
    case GroupField::kRegion:
      return "region";
    case GroupField::kChannel:
      return "channel";
    case GroupField::kCurrency:
      return "currency";
    case GroupField::kCustomerId:
      return "customer_id";
    case GroupField::kSku:
      return "sku";
    case GroupField::kCategory:
      return "category";
  }
  return "?";
}

namespace {

// Walks the YAML tree; every error carries file, line and the key path.
class ConfigReader {
 public:
  explicit ConfigReader(absl::string_view file) : file_(file) {}

  absl::Status Error(const YAML::Node& node, absl::string_view path,
                     absl::string_view what) const {
    int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        file_, ":", line, ": ", path, path.empty() ? "" : ": ", what));
  }

  // Checks that `node` is a map whose keys are all in `allowed`, once each.
  absl::Status CheckMap(
      const YAML::Node& node, absl::string_view path,
      std::initializer_list<absl::string_view> allowed) const {
    if (!node.IsMap()) return Error(node, path, "expected a mapping");
    absl::flat_hash_set<std::string> seen;
    for (const auto& entry : node) {
      std::string key = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return Error(entry.first,
                     absl::StrCat(path, path.empty() ? "" : ".", key),
                     absl::StrCat("unknown key; expected one of: ",
                                  absl::StrJoin(allowed, ", ")));
      }
      if (!seen.insert(key).second) {
        return Error(entry.first,
                     absl::StrCat(path, path.empty() ? "" : ".", key),
                     "duplicate key");
      }
    }
    return absl::OkStatus();
  }

  // A scalar's text with every ${NAME} replaced by that environment
  // variable, so that secrets need not be written in the file.
  absl::StatusOr<std::string> Expand(const YAML::Node& node,
                                     absl::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "expected a value");
    const std::string& raw = node.Scalar();
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t open = raw.find("${", pos);
      if (open == std::string::npos) break;
      size_t close = raw.find('}', open);
      std::string name = close == std::string::npos
                             ? ""
                             : raw.substr(open + 2, close - open - 2);
      bool valid = !name.empty() && !absl::ascii_isdigit(name[0]) &&
                   std::all_of(name.begin(), name.end(), [](char c) {
                     return absl::ascii_isalnum(c) || c == '_';
                   });
      if (!valid)
        return Error(node, path,
                     "bad ${NAME} reference (NAME: letters, digits, _)");
      const char* value = std::getenv(name.c_str());
      if (value == nullptr) {
        return Error(
            node, path,
            absl::StrCat("environment variable ", name, " is not set"));
      }
      out.append(raw, pos, open - pos).append(value);
      pos = close + 1;
    }
    out.append(raw, pos, std::string::npos);
    return out;
  }

  // Parses a scalar (after Expand) with `parse`. An error never quotes a
  // value that came from the environment.
  template <typename T, typename Parse>
  absl::StatusOr<T> Value(const YAML::Node& node, absl::string_view path,
                          absl::string_view kind, Parse parse) const {
    if (!node.IsScalar())
      return Error(node, path, absl::StrCat("expected ", kind));
    TS_ASSIGN_OR_RETURN(std::string text, Expand(node, path));
    absl::StatusOr<T> value = parse(text);
    if (value.ok()) return value;
    if (text != node.Scalar()) {
      return Error(
          node, path,
          absl::StrCat("the value of ", node.Scalar(), " is not ", kind));
    }
    return Error(node, path, value.status().message());
  }

  absl::StatusOr<std::string> String(const YAML::Node& node,
                                     absl::string_view path) const {
    return Value<std::string>(
        node, path, "a string",
        [](const std::string& text) -> absl::StatusOr<std::string> {
          if (text.empty())
            return absl::InvalidArgumentError("must not be empty");
          return text;
        });
  }

  absl::StatusOr<int64_t> Count(const YAML::Node& node, absl::string_view path,
                                int64_t min, int64_t max) const {
    return Value<int64_t>(
        node, path, "a whole number",
        [&](const std::string& text) -> absl::StatusOr<int64_t> {
          int64_t value = 0;
          if (!absl::SimpleAtoi(text, &value)) {
            return absl::InvalidArgumentError("expected a whole number");
          }
          if (value < min || value > max) {
            return absl::InvalidArgumentError(
                absl::StrCat("must be between ", min, " and ", max));
          }
          return value;
        });
  }

  absl::StatusOr<double> NonNegative(const YAML::Node& node,
                                     absl::string_view path) const {
    return Value<double>(
        node, path, "a number >= 0",
        [](const std::string& text) -> absl::StatusOr<double> {
          double value;
          if (!absl::SimpleAtod(text, &value) || value < 0) {
            return absl::InvalidArgumentError("expected a number >= 0");
          }
          return value;
        });
  }

  absl::StatusOr<int64_t> Duration(const YAML::Node& node,
                                   absl::string_view path) const {
    return Value<int64_t>(
        node, path, "a duration",
        [](const std::string& text) { return ParseDurationMs(text); });
  }

 private:
  std::string file_;
};

absl::StatusOr<GroupField> ParseGroupField(const ConfigReader& reader,
                                           const YAML::Node& node,
                                           absl::string_view path) {
  std::string name;
  TS_ASSIGN_OR_RETURN(name, reader.String(node, path));
  for (GroupField f :
       {GroupField::kStoreId, GroupField::kRegion, GroupField::kChannel,
        GroupField::kCurrency, GroupField::kCustomerId, GroupField::kSku,
        GroupField::kCategory}) {
    if (GroupFieldName(f) == name) return f;
  }
  return reader.Error(
      node, path,
      absl::StrCat("cannot group by \"", name,
                   "\"; expected one of: store_id, region, "
                   "channel, currency, customer_id, sku, category"));
}

absl::StatusOr<RollingMetric> ParseMetric(const ConfigReader& reader,
                                          const YAML::Node& node,
                                          absl::string_view path) {
  std::string name;
  TS_ASSIGN_OR_RETURN(name, reader.String(node, path));
  for (RollingMetric metric : {RollingMetric::kRevenue, RollingMetric::kOrders,
                               RollingMetric::kUnits, RollingMetric::kAov}) {
    if (RollingMetricName(metric) == name) return metric;
  }
  return reader.Error(
      node, path,
      absl::StrCat("unknown metric \"", name,
                   "\"; expected one of: revenue, orders, units, aov"));
}

// The name (unique among all rules) and the tumbling KPI rule of a rolling or
// anomaly rule (`kind`): both work on that rule's periods.
absl::StatusOr<const KpiRuleConfig*> ParseDerivedRule(
    const ConfigReader& reader, const YAML::Node& node, const std::string& path,
    absl::string_view kind, const std::vector<KpiRuleConfig>& kpis,
    absl::flat_hash_set<std::string>* names, std::string* name,
    std::string* kpi_name) {
  if (!node["name"])
    return reader.Error(node, path, absl::StrCat(kind, " rule has no name"));
  TS_ASSIGN_OR_RETURN(*name, reader.String(node["name"], path + ".name"));
  if (!names->insert(*name).second) {
    return reader.Error(node["name"], path + ".name",
                        absl::StrCat("duplicate rule name \"", *name, "\""));
  }
  if (!node["kpi"]) {
    return reader.Error(node, path + ".kpi",
                        "missing (the KPI rule whose periods it uses)");
  }
  TS_ASSIGN_OR_RETURN(*kpi_name, reader.String(node["kpi"], path + ".kpi"));
  for (const KpiRuleConfig& kpi : kpis) {
    if (kpi.name != *kpi_name) continue;
    if (kpi.window_type != WindowType::kTumbling) {
      return reader.Error(
          node["kpi"], path + ".kpi",
          absl::StrCat(kind,
                       " rules need a KPI rule with tumbling windows (its "
                       "periods)"));
    }
    return &kpi;
  }
  return reader.Error(node["kpi"], path + ".kpi",
                      absl::StrCat("no KPI rule named \"", *kpi_name, "\""));
}

// early_warning: {step, min_progress, z_threshold, min_drop | min_rise} of
// an anomaly rule over `kpi`; thresholds default to the rule's own.
absl::Status ParseEarlyWarning(const ConfigReader& reader,
                               const YAML::Node& node, const std::string& path,
                               const KpiRuleConfig& kpi,
                               AnomalyRuleConfig* rule) {
  const bool drop = rule->direction == AnomalyRuleConfig::Direction::kDrop;
  const char* change_key = drop ? "min_drop" : "min_rise";
  TS_RETURN_IF_ERROR(reader.CheckMap(
      node, path, {"step", "for", "min_progress", "z_threshold", change_key}));
  AnomalyRuleConfig::EarlyWarning& early = rule->early_warning;
  early.enabled = true;
  early.z_threshold = rule->z_threshold;
  early.min_change = rule->min_change;
  if (rule->metric == RollingMetric::kAov) {
    return reader.Error(node, path,
                        "needs a metric that adds up over the day (revenue, "
                        "orders or units), not aov");
  }
  if (node["step"]) {
    TS_ASSIGN_OR_RETURN(early.step_ms,
                        reader.Duration(node["step"], path + ".step"));
  }
  constexpr int64_t kDay = 86'400'000;
  const YAML::Node& at = node["step"] ? node["step"] : node;
  if (!kpi.timezone.empty() && kpi.window_size_ms != kDay) {
    return reader.Error(node, path,
                        "with a time zone, only for rules of whole days");
  }
  if (early.step_ms <= 0 || early.step_ms >= kpi.window_size_ms ||
      kpi.window_size_ms % early.step_ms != 0 ||
      (!kpi.timezone.empty() && 3'600'000 % early.step_ms != 0 &&
       early.step_ms % 3'600'000 != 0)) {
    return reader.Error(
        at, path + ".step",
        absl::StrCat("must be shorter than the KPI rule's window and divide "
                     "it into whole steps",
                     kpi.timezone.empty()
                         ? ""
                         : " (in a time zone: whole hours or parts of one)"));
  }
  if (node["for"]) {
    int64_t for_ms;
    TS_ASSIGN_OR_RETURN(for_ms, reader.Duration(node["for"], path + ".for"));
    if (for_ms % early.step_ms != 0 || for_ms >= kpi.window_size_ms) {
      return reader.Error(node["for"], path + ".for",
                          "must be a whole number of steps, shorter than the "
                          "KPI rule's window");
    }
    early.confirm_steps = std::max<int64_t>(1, for_ms / early.step_ms);
  }
  if (node["min_progress"]) {
    TS_ASSIGN_OR_RETURN(
        early.min_progress,
        reader.NonNegative(node["min_progress"], path + ".min_progress"));
    if (early.min_progress > 1) {
      return reader.Error(node["min_progress"], path + ".min_progress",
                          "must be between 0 and 1");
    }
  }
  if (node["z_threshold"]) {
    TS_ASSIGN_OR_RETURN(
        early.z_threshold,
        reader.NonNegative(node["z_threshold"], path + ".z_threshold"));
  }
  if (node[change_key]) {
    TS_ASSIGN_OR_RETURN(
        early.min_change,
        reader.NonNegative(node[change_key],
                           absl::StrCat(path, ".", change_key)));
  }
  return absl::OkStatus();
}

absl::StatusOr<PipelineConfig> Parse(const YAML::Node& root,
                                     const ConfigReader& reader) {
  PipelineConfig config;
  TS_RETURN_IF_ERROR(
      reader.CheckMap(root, "",
                      {"pipeline", "source", "limits", "kpis", "rolling",
                       "anomalies", "outputs", "kafka", "http", "state",
                       "processing_guarantee", "workers", "scale_out"}));
  if (!root["pipeline"])
    return reader.Error(root, "pipeline", "missing (the pipeline's name)");
  TS_ASSIGN_OR_RETURN(config.name, reader.String(root["pipeline"], "pipeline"));

  if (const YAML::Node source = root["source"]) {
    TS_RETURN_IF_ERROR(reader.CheckMap(
        source, "source",
        {"topic", "max_out_of_orderness", "idle_timeout", "default_currency"}));
    if (source["topic"]) {
      TS_ASSIGN_OR_RETURN(config.source.topic,
                          reader.String(source["topic"], "source.topic"));
    }
    if (source["max_out_of_orderness"]) {
      TS_ASSIGN_OR_RETURN(config.source.max_out_of_orderness_ms,
                          reader.Duration(source["max_out_of_orderness"],
                                          "source.max_out_of_orderness"));
    }
    if (source["idle_timeout"]) {
      TS_ASSIGN_OR_RETURN(
          config.source.idle_timeout_ms,
          reader.Duration(source["idle_timeout"], "source.idle_timeout"));
    }
    if (source["default_currency"]) {
      TS_ASSIGN_OR_RETURN(
          config.source.default_currency,
          reader.String(source["default_currency"], "source.default_currency"));
    }
  }

  if (const YAML::Node limits = root["limits"]) {
    TS_RETURN_IF_ERROR(reader.CheckMap(
        limits, "limits",
        {"max_record_bytes", "max_lines", "max_depth", "max_string_bytes",
         "max_qty", "max_unit_price", "min_ts", "max_future"}));
    InputLimits& l = config.limits;
    struct Count {
      const char* key;
      int64_t* target;
      int64_t max;
    } counts[] = {{"max_record_bytes", &l.max_record_bytes, int64_t{1} << 30},
                  {"max_lines", &l.max_lines, 1'000'000},
                  {"max_depth", &l.max_depth, 1024},
                  {"max_string_bytes", &l.max_string_bytes, int64_t{1} << 20},
                  {"max_qty", &l.max_qty, 1'000'000'000}};
    for (const Count& c : counts) {
      if (!limits[c.key]) continue;
      std::string path = absl::StrCat("limits.", c.key);
      TS_ASSIGN_OR_RETURN(*c.target,
                          reader.Count(limits[c.key], path, 1, c.max));
    }
    if (limits["max_unit_price"]) {
      TS_ASSIGN_OR_RETURN(l.max_unit_price_cents,
                          reader.Value<int64_t>(
                              limits["max_unit_price"], "limits.max_unit_price",
                              "a decimal", [](const std::string& text) {
                                return ParseCents(text, "value");
                              }));
    }
    if (limits["min_ts"]) {
      Timestamp min_ts;
      TS_ASSIGN_OR_RETURN(
          min_ts,
          reader.Value<Timestamp>(
              limits["min_ts"], "limits.min_ts", "an RFC 3339 time",
              [](const std::string& text) { return ParseRfc3339(text); }));
      l.min_ts_ms = min_ts.millis();
    }
    if (limits["max_future"]) {
      TS_ASSIGN_OR_RETURN(
          l.max_future_ms,
          reader.Duration(limits["max_future"], "limits.max_future"));
    }
  }

  const YAML::Node kpis = root["kpis"];
  if (!kpis)
    return reader.Error(root, "kpis", "missing (at least one KPI rule)");
  if (!kpis.IsSequence() || kpis.size() == 0) {
    return reader.Error(kpis, "kpis", "expected a non-empty list of KPI rules");
  }
  absl::flat_hash_set<std::string> names;
  for (size_t i = 0; i < kpis.size(); ++i) {
    const YAML::Node rule_node = kpis[i];
    std::string path = absl::StrCat("kpis[", i, "]");
    TS_RETURN_IF_ERROR(reader.CheckMap(
        rule_node, path,
        {"name", "group_by", "window", "allowed_lateness", "timezone",
         "top_skus", "approx_distinct", "emit", "update_interval"}));
    KpiRuleConfig rule;
    if (!rule_node["name"])
      return reader.Error(rule_node, path, "KPI rule has no name");
    TS_ASSIGN_OR_RETURN(rule.name,
                        reader.String(rule_node["name"], path + ".name"));
    if (!names.insert(rule.name).second) {
      return reader.Error(
          rule_node["name"], path + ".name",
          absl::StrCat("duplicate KPI rule name \"", rule.name, "\""));
    }
    if (const YAML::Node group_by = rule_node["group_by"]) {
      if (!group_by.IsSequence()) {
        return reader.Error(group_by, path + ".group_by",
                            "expected a list of fields");
      }
      for (size_t g = 0; g < group_by.size(); ++g) {
        GroupField field;
        TS_ASSIGN_OR_RETURN(
            field, ParseGroupField(reader, group_by[g],
                                   absl::StrCat(path, ".group_by[", g, "]")));
        if (std::find(rule.group_by.begin(), rule.group_by.end(), field) !=
            rule.group_by.end()) {
          return reader.Error(group_by[g],
                              absl::StrCat(path, ".group_by[", g, "]"),
                              "field listed twice");
        }
        rule.group_by.push_back(field);
      }
    }
    const YAML::Node window = rule_node["window"];
    if (!window) return reader.Error(rule_node, path + ".window", "missing");
    TS_RETURN_IF_ERROR(reader.CheckMap(window, path + ".window",
                                       {"type", "size", "slide", "gap"}));
    std::string type = "tumbling";
    if (window["type"]) {
      TS_ASSIGN_OR_RETURN(type,
                          reader.String(window["type"], path + ".window.type"));
    }
    // Which keys each window type takes.
    struct Shape {
      const char* type;
      WindowType kind;
      bool size, slide, gap;
    };
    static constexpr Shape kShapes[] = {
        {"tumbling", WindowType::kTumbling, true, false, false},
        {"hopping", WindowType::kHopping, true, true, false},
        {"session", WindowType::kSession, false, false, true}};
    const Shape* shape = nullptr;
    for (const Shape& candidate : kShapes) {
      if (type == candidate.type) shape = &candidate;
    }
    if (shape == nullptr) {
      return reader.Error(
          window["type"], path + ".window.type",
          absl::StrCat(
              "window type \"", type,
              "\" is not supported; expected tumbling, hopping or session"));
    }
    rule.window_type = shape->kind;
    struct Length {
      const char* key;
      bool wanted;
      int64_t* target;
    } lengths[] = {{"size", shape->size, &rule.window_size_ms},
                   {"slide", shape->slide, &rule.window_slide_ms},
                   {"gap", shape->gap, &rule.session_gap_ms}};
    for (const Length& length : lengths) {
      std::string key_path = absl::StrCat(path, ".window.", length.key);
      if (!length.wanted) {
        if (window[length.key]) {
          return reader.Error(
              window[length.key], key_path,
              absl::StrCat("a ", type, " window has no ", length.key));
        }
        continue;
      }
      if (!window[length.key]) return reader.Error(window, key_path, "missing");
      TS_ASSIGN_OR_RETURN(*length.target,
                          reader.Duration(window[length.key], key_path));
      if (*length.target <= 0)
        return reader.Error(window[length.key], key_path, "must be > 0");
    }
    if (rule.window_type == WindowType::kHopping &&
        rule.window_slide_ms > rule.window_size_ms) {
      return reader.Error(window["slide"], path + ".window.slide",
                          "must not exceed the window size (events would fall "
                          "between windows)");
    }
    if (rule.window_type == WindowType::kHopping &&
        rule.window_size_ms / rule.window_slide_ms > 1000) {
      return reader.Error(
          window["slide"], path + ".window.slide",
          "more than 1000 windows per event; use a larger slide");
    }
    if (rule_node["allowed_lateness"]) {
      TS_ASSIGN_OR_RETURN(rule.allowed_lateness_ms,
                          reader.Duration(rule_node["allowed_lateness"],
                                          path + ".allowed_lateness"));
    }
    if (rule_node["top_skus"]) {
      TS_ASSIGN_OR_RETURN(
          rule.top_skus,
          reader.Count(rule_node["top_skus"], path + ".top_skus", 1, 1000));
    }
    if (rule_node["timezone"]) {
      TS_ASSIGN_OR_RETURN(rule.timezone, reader.String(rule_node["timezone"],
                                                       path + ".timezone"));
      absl::TimeZone zone;
      if (!absl::LoadTimeZone(rule.timezone, &zone)) {
        return reader.Error(
            rule_node["timezone"], path + ".timezone",
            absl::StrCat("unknown time zone \"", rule.timezone,
                         "\" (an IANA name such as Europe/Berlin)"));
      }
      if (rule.window_type != WindowType::kTumbling ||
          (86'400'000 % rule.window_size_ms != 0 &&
           rule.window_size_ms != 86'400'000)) {
        return reader.Error(rule_node["timezone"], path + ".timezone",
                            "a time zone applies to tumbling windows of one "
                            "day or a part of a day");
      }
    }
    std::string emit = "final";
    if (rule_node["emit"]) {
      TS_ASSIGN_OR_RETURN(emit,
                          reader.String(rule_node["emit"], path + ".emit"));
      if (emit != "final" && emit != "updates") {
        return reader.Error(rule_node["emit"], path + ".emit",
                            absl::StrCat("unknown emit mode \"", emit,
                                         "\"; expected final or updates"));
      }
    }
    if (emit == "updates") {
      if (!rule_node["update_interval"]) {
        return reader.Error(rule_node["emit"], path + ".update_interval",
                            "missing: emit: updates needs an update_interval");
      }
      TS_ASSIGN_OR_RETURN(rule.update_interval_ms,
                          reader.Duration(rule_node["update_interval"],
                                          path + ".update_interval"));
      if (rule.update_interval_ms <= 0) {
        return reader.Error(rule_node["update_interval"],
                            path + ".update_interval", "must be > 0");
      }
    } else if (rule_node["update_interval"]) {
      return reader.Error(rule_node["update_interval"],
                          path + ".update_interval", "only with emit: updates");
    }
    if (rule_node["approx_distinct"]) {
      std::string method;
      TS_ASSIGN_OR_RETURN(method, reader.String(rule_node["approx_distinct"],
                                                path + ".approx_distinct"));
      if (method != "hll") {
        return reader.Error(
            rule_node["approx_distinct"], path + ".approx_distinct",
            absl::StrCat("unknown method \"", method, "\"; expected hll"));
      }
      rule.approx_distinct = true;
    }
    config.kpis.push_back(std::move(rule));
  }

  if (const YAML::Node rolling = root["rolling"]) {
    if (!rolling.IsSequence()) {
      return reader.Error(rolling, "rolling",
                          "expected a list of rolling rules");
    }
    for (size_t i = 0; i < rolling.size(); ++i) {
      const YAML::Node node = rolling[i];
      std::string path = absl::StrCat("rolling[", i, "]");
      TS_RETURN_IF_ERROR(reader.CheckMap(
          node, path, {"name", "kpi", "span", "previous_span", "metrics"}));
      RollingRuleConfig rule;
      TS_RETURN_IF_ERROR(ParseDerivedRule(reader, node, path, "rolling",
                                          config.kpis, &names, &rule.name,
                                          &rule.kpi)
                             .status());
      if (node["span"]) {
        TS_ASSIGN_OR_RETURN(
            rule.span, reader.Count(node["span"], path + ".span", 1, 1000));
      }
      rule.previous_span = rule.span;
      if (node["previous_span"]) {
        TS_ASSIGN_OR_RETURN(rule.previous_span,
                            reader.Count(node["previous_span"],
                                         path + ".previous_span", 1, 1000));
      }
      if (const YAML::Node metrics = node["metrics"]) {
        if (!metrics.IsSequence() || metrics.size() == 0) {
          return reader.Error(metrics, path + ".metrics",
                              "expected a list of metrics");
        }
        rule.metrics.clear();
        for (size_t m = 0; m < metrics.size(); ++m) {
          std::string metric_path = absl::StrCat(path, ".metrics[", m, "]");
          RollingMetric metric;
          TS_ASSIGN_OR_RETURN(metric,
                              ParseMetric(reader, metrics[m], metric_path));
          rule.metrics.push_back(metric);
        }
      }
      config.rolling.push_back(std::move(rule));
    }
  }

  if (const YAML::Node anomalies = root["anomalies"]) {
    if (!anomalies.IsSequence()) {
      return reader.Error(anomalies, "anomalies",
                          "expected a list of anomaly rules");
    }
    for (size_t i = 0; i < anomalies.size(); ++i) {
      const YAML::Node node = anomalies[i];
      std::string path = absl::StrCat("anomalies[", i, "]");
      TS_RETURN_IF_ERROR(reader.CheckMap(
          node, path,
          {"name", "kpi", "metric", "method", "season", "history",
           "min_history", "z_threshold", "min_drop", "min_rise",
           "critical_change", "min_volume", "cooldown", "early_warning"}));
      AnomalyRuleConfig rule;
      TS_ASSIGN_OR_RETURN(
          const KpiRuleConfig* kpi,
          ParseDerivedRule(reader, node, path, "anomaly", config.kpis, &names,
                           &rule.name, &rule.kpi));
      if (node["metric"]) {
        TS_ASSIGN_OR_RETURN(
            rule.metric, ParseMetric(reader, node["metric"], path + ".metric"));
      }
      if (node["method"]) {
        std::string method;
        TS_ASSIGN_OR_RETURN(method,
                            reader.String(node["method"], path + ".method"));
        if (method == "robust_drop" || method == "seasonal_robust") {
          rule.direction = AnomalyRuleConfig::Direction::kDrop;
        } else if (method == "robust_spike" || method == "seasonal_spike") {
          rule.direction = AnomalyRuleConfig::Direction::kSpike;
        } else {
          return reader.Error(
              node["method"], path + ".method",
              absl::StrCat("unknown method \"", method,
                           "\"; expected robust_drop, robust_spike, "
                           "seasonal_robust or seasonal_spike"));
        }
        if (absl::StartsWith(method, "seasonal")) {
          // A week of the KPI rule's periods: 7 days, 168 hours.
          rule.season = kpi->window_size_ms == 86'400'000  ? 7
                        : kpi->window_size_ms == 3'600'000 ? 168
                                                           : 0;
          rule.history = 4;
          if (node["season"]) {
            TS_ASSIGN_OR_RETURN(
                rule.season,
                reader.Count(node["season"], path + ".season", 2, 10000));
          } else if (rule.season == 0) {
            return reader.Error(node["method"], path + ".season",
                                "missing: the periods in a season (daily and "
                                "hourly rules default "
                                "to a week)");
          }
        }
      }
      if (node["history"]) {
        TS_ASSIGN_OR_RETURN(
            rule.history,
            reader.Count(node["history"], path + ".history", 3, 1000));
        if (rule.history * rule.season > 100'000) {
          return reader.Error(node["history"], path + ".history",
                              "history x season over 100000 periods");
        }
      }
      if (node["season"] && rule.season == 1) {
        return reader.Error(node["season"], path + ".season",
                            "only for seasonal methods");
      }
      rule.min_history = rule.history;
      if (node["min_history"]) {
        TS_ASSIGN_OR_RETURN(
            rule.min_history,
            reader.Count(node["min_history"], path + ".min_history", 3,
                         rule.history));
      }
      if (node["cooldown"]) {
        TS_ASSIGN_OR_RETURN(
            rule.cooldown,
            reader.Count(node["cooldown"], path + ".cooldown", 0, 1000));
      }
      struct Number {
        const char* key;
        double* target;
      } numbers[] = {
          {"z_threshold", &rule.z_threshold},
          {rule.direction == AnomalyRuleConfig::Direction::kDrop ? "min_drop"
                                                                 : "min_rise",
           &rule.min_change},
          {"critical_change", &rule.critical_change},
          {"min_volume", &rule.min_volume}};
      for (const Number& number : numbers) {
        if (!node[number.key]) continue;
        TS_ASSIGN_OR_RETURN(
            *number.target,
            reader.NonNegative(node[number.key],
                               absl::StrCat(path, ".", number.key)));
      }
      const bool drop = rule.direction == AnomalyRuleConfig::Direction::kDrop;
      const char* wrong = drop ? "min_rise" : "min_drop";
      if (node[wrong]) {
        return reader.Error(
            node[wrong], absl::StrCat(path, ".", wrong),
            absl::StrCat("not for method ",
                         drop ? "robust_drop" : "robust_spike"));
      }
      if (const YAML::Node early = node["early_warning"]) {
        TS_RETURN_IF_ERROR(ParseEarlyWarning(
            reader, early, path + ".early_warning", *kpi, &rule));
      }
      config.anomalies.push_back(std::move(rule));
    }
  }

  const YAML::Node outputs = root["outputs"];
  if (!outputs) return reader.Error(root, "outputs", "missing");
  TS_RETURN_IF_ERROR(reader.CheckMap(
      outputs, "outputs", {"kpis", "deadletter", "late", "rolling", "alerts"}));
  struct Required {
    absl::string_view key;
    std::string* target;
  } required[] = {{"kpis", &config.outputs.kpis},
                  {"deadletter", &config.outputs.deadletter},
                  {"late", &config.outputs.late}};
  for (const Required& r : required) {
    std::string path = absl::StrCat("outputs.", r.key);
    if (!outputs[std::string(r.key)]) {
      return reader.Error(outputs, path,
                          "missing: every pipeline names its kpis, deadletter "
                          "and late outputs");
    }
    TS_ASSIGN_OR_RETURN(*r.target,
                        reader.String(outputs[std::string(r.key)], path));
  }

  if (const YAML::Node http = root["http"]) {
    TS_RETURN_IF_ERROR(reader.CheckMap(http, "http", {"port", "address"}));
    if (!http["port"]) return reader.Error(http, "http.port", "missing");
    TS_ASSIGN_OR_RETURN(const int64_t port,
                        reader.Count(http["port"], "http.port", 0, 65535));
    config.http.port = static_cast<int>(port);
    if (http["address"]) {
      TS_ASSIGN_OR_RETURN(config.http.address,
                          reader.String(http["address"], "http.address"));
    }
  }

  if (const YAML::Node state = root["state"]) {
    TS_RETURN_IF_ERROR(reader.CheckMap(
        state, "state",
        {"dir", "checkpoint_interval", "memory_mb", "changelog"}));
    if (!state["dir"]) return reader.Error(state, "state.dir", "missing");
    TS_ASSIGN_OR_RETURN(config.state.dir,
                        reader.String(state["dir"], "state.dir"));
    if (state["checkpoint_interval"]) {
      TS_ASSIGN_OR_RETURN(config.state.checkpoint_interval_ms,
                          reader.Duration(state["checkpoint_interval"],
                                          "state.checkpoint_interval"));
      if (config.state.checkpoint_interval_ms < 10) {
        return reader.Error(state["checkpoint_interval"],
                            "state.checkpoint_interval",
                            "must be at least 10ms");
      }
    }
    if (state["memory_mb"]) {
      TS_ASSIGN_OR_RETURN(
          config.state.memory_mb,
          reader.Count(state["memory_mb"], "state.memory_mb", 16, 1 << 20));
    }
    if (state["changelog"]) {
      TS_ASSIGN_OR_RETURN(config.state.changelog,
                          reader.String(state["changelog"], "state.changelog"));
    }
  }
  if (const YAML::Node workers = root["workers"]) {
    TS_ASSIGN_OR_RETURN(config.workers,
                        reader.Count(workers, "workers", 1, kMaxWorkers));
  }
  if (const YAML::Node scale_out = root["scale_out"]) {
    TS_RETURN_IF_ERROR(reader.CheckMap(scale_out, "scale_out", {"tasks"}));
    if (!scale_out["tasks"]) {
      return reader.Error(scale_out, "scale_out.tasks",
                          "missing (how many tasks the work is split into: "
                          "the partitions of the repartition and changelog "
                          "topics)");
    }
    TS_ASSIGN_OR_RETURN(config.scale_out_tasks,
                        reader.Count(scale_out["tasks"], "scale_out.tasks", 1,
                                     kMaxScaleOutTasks));
    if (!root["state"]) {
      return reader.Error(scale_out, "scale_out",
                          "needs state (state.dir): a task's state moves "
                          "between instances through its changelog");
    }
  }
  if (const YAML::Node guarantee = root["processing_guarantee"]) {
    TS_ASSIGN_OR_RETURN(const std::string name,
                        reader.String(guarantee, "processing_guarantee"));
    if (name == "at_least_once") {
      config.processing_guarantee = ProcessingGuarantee::kAtLeastOnce;
    } else if (name == "exactly_once") {
      config.processing_guarantee = ProcessingGuarantee::kExactlyOnce;
    } else {
      return reader.Error(guarantee, "processing_guarantee",
                          "expected at_least_once or exactly_once");
    }
  }

  if (const YAML::Node kafka = root["kafka"]) {
    TS_RETURN_IF_ERROR(
        reader.CheckMap(kafka, "kafka", {"brokers", "group_id", "properties"}));
    if (kafka["brokers"]) {
      TS_ASSIGN_OR_RETURN(config.kafka.brokers,
                          reader.String(kafka["brokers"], "kafka.brokers"));
    }
    if (kafka["group_id"]) {
      TS_ASSIGN_OR_RETURN(config.kafka.group_id,
                          reader.String(kafka["group_id"], "kafka.group_id"));
    }
    if (const YAML::Node properties = kafka["properties"]) {
      if (!properties.IsMap()) {
        return reader.Error(properties, "kafka.properties",
                            "expected a mapping");
      }
      for (const auto& entry : properties) {
        std::string path =
            absl::StrCat("kafka.properties.", entry.first.Scalar());
        std::string value;
        TS_ASSIGN_OR_RETURN(value, reader.Expand(entry.second, path));
        config.kafka.properties.emplace_back(entry.first.Scalar(),
                                             std::move(value));
      }
    }
  }
  if (!config.anomalies.empty()) {
    if (!outputs["alerts"]) {
      return reader.Error(outputs, "outputs.alerts",
                          "missing: the anomaly rules need an output");
    }
    TS_ASSIGN_OR_RETURN(config.outputs.alerts,
                        reader.String(outputs["alerts"], "outputs.alerts"));
  }
  if (!config.rolling.empty()) {
    if (!outputs["rolling"]) {
      return reader.Error(outputs, "outputs.rolling",
                          "missing: the rolling rules need an output");
    }
    TS_ASSIGN_OR_RETURN(config.outputs.rolling,
                        reader.String(outputs["rolling"], "outputs.rolling"));
  }
  if (config.kafka.group_id.empty()) {
    config.kafka.group_id = absl::StrCat("tillstream-", config.name);
  }
  if (config.state.changelog.empty())
    config.state.changelog = absl::StrCat(config.kafka.group_id, "-changelog");
  if (config.scale_out_tasks > 0 && config.state.changelog == "none") {
    return reader.Error(root["state"]["changelog"], "state.changelog",
                        "none: scale_out moves a task's state between "
                        "instances through its changelog");
  }
  return config;
}

}  // namespace

absl::StatusOr<PipelineConfig> ParsePipelineConfig(absl::string_view yaml,
                                                   absl::string_view file) {
  ConfigReader reader(file);
  YAML::Node root;
  // yaml-cpp reports syntax errors by exception; they stop here.
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":1: the pipeline file is empty"));
  }
  try {
    absl::StatusOr<PipelineConfig> config = Parse(root, reader);
    if (config.ok()) config->file = std::string(file);
    return config;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<PipelineConfig> LoadPipelineConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the pipeline file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParsePipelineConfig(text.str(), path);
}

absl::string_view GuaranteeName(ProcessingGuarantee guarantee) {
  switch (guarantee) {
    case ProcessingGuarantee::kDefault:
      return "default";
    case ProcessingGuarantee::kAtLeastOnce:
      return "at_least_once";
    case ProcessingGuarantee::kExactlyOnce:
      return "exactly_once";
  }
  return "?";
}

absl::string_view RollingMetricName(RollingMetric metric) {
  switch (metric) {
    case RollingMetric::kRevenue:
      return "revenue";
    case RollingMetric::kOrders:
      return "orders";
    case RollingMetric::kUnits:
      return "units";
    case RollingMetric::kAov:
      return "aov";
  }
  return "?";
}

bool IsSecretProperty(absl::string_view name) {
  return absl::StrContains(name, "password") ||
         absl::StrContains(name, "secret") ||
         absl::StrContains(name, "sasl.jaas") ||
         absl::StrContains(name, "oauthbearer.config");
}

std::string EffectiveConfigJson(const PipelineConfig& config) {
  std::string out = "{\"pipeline\":";
  AppendJsonString(config.name, &out);
  out.append(",\"source\":{\"topic\":");
  AppendJsonString(config.source.topic, &out);
  absl::StrAppend(&out, ",\"max_out_of_orderness_ms\":",
                  config.source.max_out_of_orderness_ms,
                  ",\"idle_timeout_ms\":", config.source.idle_timeout_ms,
                  ",\"default_currency\":");
  AppendJsonString(config.source.default_currency, &out);
  const InputLimits& l = config.limits;
  absl::StrAppend(
      &out, "},\"limits\":{\"max_record_bytes\":", l.max_record_bytes,
      ",\"max_lines\":", l.max_lines, ",\"max_depth\":", l.max_depth,
      ",\"max_string_bytes\":", l.max_string_bytes, ",\"max_qty\":", l.max_qty,
      ",\"max_unit_price\":\"", FormatCents(l.max_unit_price_cents),
      "\",\"min_ts\":\"", FormatRfc3339(Timestamp::FromMillis(l.min_ts_ms)),
      "\",\"max_future_ms\":", l.max_future_ms, "},\"kpis\":[");
  for (size_t i = 0; i < config.kpis.size(); ++i) {
    const KpiRuleConfig& rule = config.kpis[i];
    out.append(i > 0 ? ",{\"name\":" : "{\"name\":");
    AppendJsonString(rule.name, &out);
    out.append(",\"group_by\":[");
    for (size_t g = 0; g < rule.group_by.size(); ++g) {
      if (g > 0) out.push_back(',');
      AppendJsonString(GroupFieldName(rule.group_by[g]), &out);
    }
    switch (rule.window_type) {
      case WindowType::kTumbling:
        absl::StrAppend(&out,
                        "],\"window\":{\"type\":\"tumbling\",\"size_ms\":",
                        rule.window_size_ms);
        break;
      case WindowType::kHopping:
        absl::StrAppend(&out, "],\"window\":{\"type\":\"hopping\",\"size_ms\":",
                        rule.window_size_ms,
                        ",\"slide_ms\":", rule.window_slide_ms);
        break;
      case WindowType::kSession:
        absl::StrAppend(&out, "],\"window\":{\"type\":\"session\",\"gap_ms\":",
                        rule.session_gap_ms);
        break;
    }
    out.append("},\"timezone\":");
    AppendJsonString(rule.timezone.empty() ? "UTC" : rule.timezone, &out);
    absl::StrAppend(&out, ",\"allowed_lateness_ms\":", rule.allowed_lateness_ms,
                    ",\"top_skus\":", rule.top_skus, ",\"approx_distinct\":",
                    rule.approx_distinct ? "true" : "false",
                    ",\"update_interval_ms\":", rule.update_interval_ms, "}");
  }
  out.append("],\"rolling\":[");
  for (size_t i = 0; i < config.rolling.size(); ++i) {
    const RollingRuleConfig& rule = config.rolling[i];
    out.append(i > 0 ? ",{\"name\":" : "{\"name\":");
    AppendJsonString(rule.name, &out);
    out.append(",\"kpi\":");
    AppendJsonString(rule.kpi, &out);
    absl::StrAppend(&out, ",\"span\":", rule.span,
                    ",\"previous_span\":", rule.previous_span,
                    ",\"metrics\":[");
    for (size_t m = 0; m < rule.metrics.size(); ++m) {
      if (m > 0) out.push_back(',');
      AppendJsonString(RollingMetricName(rule.metrics[m]), &out);
    }
    out.append("]}");
  }
  out.append("],\"anomalies\":[");
  for (size_t i = 0; i < config.anomalies.size(); ++i) {
    const AnomalyRuleConfig& rule = config.anomalies[i];
    const bool drop = rule.direction == AnomalyRuleConfig::Direction::kDrop;
    out.append(i > 0 ? ",{\"name\":" : "{\"name\":");
    AppendJsonString(rule.name, &out);
    out.append(",\"kpi\":");
    AppendJsonString(rule.kpi, &out);
    absl::StrAppend(
        &out, ",\"metric\":\"", RollingMetricName(rule.metric),
        "\",\"direction\":\"", drop ? "drop" : "spike",
        "\",\"season\":", rule.season, ",\"history\":", rule.history,
        ",\"min_history\":", rule.min_history,
        ",\"z_threshold\":", rule.z_threshold,
        ",\"min_change\":", rule.min_change,
        ",\"critical_change\":", rule.critical_change,
        ",\"min_volume\":", rule.min_volume, ",\"cooldown\":", rule.cooldown);
    const AnomalyRuleConfig::EarlyWarning& early = rule.early_warning;
    if (early.enabled) {
      absl::StrAppend(&out, ",\"early_warning\":{\"step_ms\":", early.step_ms,
                      ",\"for_steps\":", early.confirm_steps,
                      ",\"min_progress\":", early.min_progress,
                      ",\"z_threshold\":", early.z_threshold,
                      ",\"min_change\":", early.min_change, "}");
    }
    out.push_back('}');
  }
  out.append("],\"outputs\":{");
  const std::pair<const char*, const std::string*> outputs[] = {
      {"kpis", &config.outputs.kpis},
      {"rolling", &config.outputs.rolling},
      {"alerts", &config.outputs.alerts},
      {"deadletter", &config.outputs.deadletter},
      {"late", &config.outputs.late}};
  bool first = true;
  for (const auto& [key, name] : outputs) {
    if (name->empty()) continue;
    absl::StrAppend(&out, first ? "\"" : ",\"", key, "\":");
    AppendJsonString(*name, &out);
    first = false;
  }
  absl::StrAppend(&out, "},\"http\":{\"port\":", config.http.port,
                  ",\"address\":");
  AppendJsonString(config.http.address, &out);
  out.append("},\"state\":{\"dir\":");
  AppendJsonString(config.state.dir, &out);
  absl::StrAppend(
      &out, ",\"checkpoint_interval_ms\":", config.state.checkpoint_interval_ms,
      ",\"memory_mb\":", config.state.memory_mb, ",\"changelog\":");
  AppendJsonString(config.state.changelog, &out);
  absl::StrAppend(&out, "},\"processing_guarantee\":\"",
                  GuaranteeName(config.processing_guarantee),
                  "\",\"workers\":", config.workers,
                  ",\"scale_out\":{\"tasks\":", config.scale_out_tasks, "}");
  out.append(",\"kafka\":{\"brokers\":");
  AppendJsonString(config.kafka.brokers, &out);
  out.append(",\"group_id\":");
  AppendJsonString(config.kafka.group_id, &out);
  out.append(",\"properties\":{");
  for (size_t i = 0; i < config.kafka.properties.size(); ++i) {
    const auto& [name, value] = config.kafka.properties[i];
    if (i > 0) out.push_back(',');
    AppendJsonString(name, &out);
    out.push_back(':');
    AppendJsonString(IsSecretProperty(name) ? "[redacted]" : value, &out);
  }
  out.append("}}}");
  return out;
}

}  // namespace tillstream
