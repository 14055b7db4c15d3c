#ifndef TILLSTREAM_ENGINE_RUN_REPORTER_H_
#define TILLSTREAM_ENGINE_RUN_REPORTER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/pipeline_runner.h"

namespace tillstream {

// What `tillstream run` tells its operator on stderr: log lines (plain
// "tillstream: ..." text, or one JSON object per line with --log-format
// json), a status line every few seconds (events/s, lag, watermark, open
// alerts; with done/total, rate and ETA when the input is bounded) -
// rewritten in place on a terminal, a JSON "status" record per interval in
// json mode, nothing otherwise - and the closing summary.
class RunReporter {
 public:
  RunReporter(const PipelineConfig& config, bool json, bool terminal);

  void Info(absl::string_view message) const;
  void Error(absl::string_view message) const;
  // After each batch, on the worker: prints the status when it is due.
  void OnBatch(PipelineRunner& runner);
  void Summary(PipelineRunner& runner, double seconds) const;

 private:
  void Line(absl::string_view level, absl::string_view message,
            absl::string_view json_fields) const;

  // Tells the operator when this instance has had no input partitions for
  // a while, and when they come: a consumer group still rebalancing is not
  // an idle input.
  void ReportAssignment(const PipelineRunner& runner,
                        std::chrono::steady_clock::time_point now);

  const PipelineConfig& config_;
  const bool json_;
  const bool terminal_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_status_;
  int64_t last_events_ = 0;
  bool status_shown_ = false;  // a status line is on the terminal
  // Since when the runner has had no partitions; empty while it has some.
  std::optional<std::chrono::steady_clock::time_point> unassigned_since_;
  bool waiting_reported_ = false;  // told, for this stretch
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_RUN_REPORTER_H_
