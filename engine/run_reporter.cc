#include "engine/run_reporter.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/json_writer.h"
#include "engine/time_format.h"

namespace tillstream {
namespace {

constexpr std::chrono::seconds kStatusInterval(5);

std::string Quoted(absl::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

// "1.2 GB" / "35,000 records" style amounts for the progress part.
std::string Amount(int64_t n, const char* unit) {
  if (std::string(unit) == "bytes") {
    return absl::StrFormat("%.1f MB", static_cast<double>(n) / 1e6);
  }
  return absl::StrCat(n, " ", unit);
}

}  // namespace

RunReporter::RunReporter(const PipelineConfig& config, bool json, bool terminal)
    : config_(config),
      json_(json),
      terminal_(terminal),
      started_(std::chrono::steady_clock::now()),
      last_status_(started_) {}

void RunReporter::Line(absl::string_view level, absl::string_view message,
                       absl::string_view json_fields) const {
  if (status_shown_) std::fputs("\r\033[K", stderr);
  if (!json_) {
    std::fprintf(stderr, "tillstream: %.*s\n", static_cast<int>(message.size()),
                 message.data());
    return;
  }
  const std::string line = absl::StrCat(
      "{\"ts\":\"",
      FormatRfc3339(Timestamp::FromMillis(absl::ToUnixMillis(absl::Now()))),
      "\",\"level\":\"", level, "\",\"pipeline\":", Quoted(config_.name),
      ",\"msg\":", Quoted(message), json_fields, "}\n");
  std::fputs(line.c_str(), stderr);
}

void RunReporter::Info(absl::string_view message) const {
  Line("info", message, "");
}

void RunReporter::Error(absl::string_view message) const {
  Line("error", message, "");
}

void RunReporter::ReportAssignment(const PipelineRunner& runner,
                                   std::chrono::steady_clock::time_point now) {
  if (runner.assigned_partitions() > 0) {
    if (waiting_reported_) {
      Info(absl::StrFormat(
          "input partitions assigned after %.0f s without",
          std::chrono::duration<double>(now - *unassigned_since_).count()));
    }
    unassigned_since_.reset();
    waiting_reported_ = false;
    return;
  }
  if (!unassigned_since_.has_value()) unassigned_since_ = now;
  const double waited =
      std::chrono::duration<double>(now - *unassigned_since_).count();
  // A group join takes a few seconds; a crashed member keeps its
  // partitions until its session times out.
  if (waiting_reported_ || waited < 15) return;
  waiting_reported_ = true;
  Info(absl::StrFormat(
      "no input partitions for %.0f s: consumer group %s is still "
      "rebalancing (a member that crashed holds its partitions until its "
      "session.timeout.ms passes), or has more members than the topic has "
      "partitions",
      waited, config_.kafka.group_id));
}

void RunReporter::OnBatch(PipelineRunner& runner) {
  const auto now = std::chrono::steady_clock::now();
  ReportAssignment(runner, now);
  if (!terminal_ && !json_) return;
  if (now - last_status_ < kStatusInterval) return;
  const double interval =
      std::chrono::duration<double>(now - last_status_).count();
  const double elapsed = std::chrono::duration<double>(now - started_).count();
  last_status_ = now;
  const RunSummary& s = runner.summary();
  const double rate = (s.events - last_events_) / interval;
  last_events_ = s.events;
  const int64_t lag = runner.TotalLag();
  const int64_t alerts = runner.OpenAlerts();
  const SourceProgress progress = runner.progress();
  std::string text = absl::StrFormat(
      "%.0f events/s, lag %s, watermark %s, %d open alerts", rate,
      lag < 0 ? "-" : absl::StrCat(lag), FormatRfc3339(s.watermark), alerts);
  std::string fields = absl::StrFormat(
      ",\"events_per_second\":%.0f,\"events\":%d,\"lag\":%d,\"watermark\":%s,"
      "\"open_alerts\":%d",
      rate, s.events, lag, Quoted(FormatRfc3339(s.watermark)), alerts);
  if (progress.total > 0) {
    const double done =
        std::min(1.0, static_cast<double>(progress.done) / progress.total);
    const double per_second = progress.done / std::max(elapsed, 1e-3);
    const double eta =
        per_second > 0 ? (progress.total - progress.done) / per_second : 0;
    absl::StrAppend(&text,
                    absl::StrFormat(" | %s of %s (%.0f%%), ETA %.0f s",
                                    Amount(progress.done, progress.unit),
                                    Amount(progress.total, progress.unit),
                                    100 * done, eta));
    absl::StrAppend(
        &fields,
        absl::StrFormat(",\"done\":%d,\"total\":%d,\"unit\":\"%s\","
                        "\"eta_seconds\":%.0f",
                        progress.done, progress.total, progress.unit, eta));
  }
  if (json_) {
    Line("info", "status", fields);
    return;
  }
  // On a terminal: one line, rewritten in place.
  std::fprintf(stderr, "\r\033[Ktillstream: %s", text.c_str());
  std::fflush(stderr);
  status_shown_ = true;
}

void RunReporter::Summary(PipelineRunner& runner, double seconds) const {
  const RunSummary& s = runner.summary();
  std::vector<std::pair<int64_t, std::string>> reasons;
  for (const auto& [reason, count] : s.bad_by_reason)
    reasons.emplace_back(count, reason);
  std::sort(reasons.rbegin(), reasons.rend());
  const double rate = seconds > 0 ? s.records / seconds : 0.0;
  const std::string watermark = FormatRfc3339(s.watermark);
  std::string fields = absl::StrFormat(
      ",\"records\":%d,\"events\":%d,\"dead_letters\":%d,\"late\":%d,"
      "\"windows\":%d,\"corrections\":%d,\"rolling\":%d,\"alerts\":%d,"
      "\"watermark\":%s,\"seconds\":%.3f,\"records_per_second\":%.0f,"
      "\"dead_letter_reasons\":{",
      s.records, s.events, s.bad_records, s.late_events, s.snapshots,
      s.corrections, s.rolling, s.alerts, Quoted(watermark), seconds, rate);
  for (size_t i = 0; i < reasons.size() && i < 8; ++i) {
    absl::StrAppend(&fields, i > 0 ? "," : "", Quoted(reasons[i].second), ":",
                    reasons[i].first);
  }
  fields.push_back('}');
  const CheckpointProbe& c = runner.checkpoints();
  if (c.completed + c.failed > 0) {
    absl::StrAppend(
        &fields,
        absl::StrFormat(",\"checkpoints\":%d,\"checkpoint_seconds\":%.3f",
                        c.completed, c.total_duration_us / 1e6));
  }
  if (json_) {
    Line("info", "summary", fields);
    return;
  }
  Info(absl::StrFormat(
      "pipeline %s: %d records, %d events, %d dead letters, %d late, %d "
      "windows emitted (+%d corrections), %d rolling, %d alerts, watermark "
      "%s, %.2f s (%.0f records/s)",
      config_.name, s.records, s.events, s.bad_records, s.late_events,
      s.snapshots, s.corrections, s.rolling, s.alerts, watermark, seconds,
      rate));
  if (c.completed + c.failed > 0) {
    Info(absl::StrFormat(
        "%d checkpoints, %.3f s in all (%.1f%% of the run)", c.completed,
        c.total_duration_us / 1e6,
        seconds > 0 ? c.total_duration_us / 1e4 / seconds : 0.0));
  }
  for (size_t i = 0; i < reasons.size() && i < 8; ++i) {
    std::fprintf(stderr, "  dead letter x%lld: %s\n",
                 static_cast<long long>(reasons[i].first),
                 reasons[i].second.c_str());
  }
}

}  // namespace tillstream
