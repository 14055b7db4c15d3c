#ifndef TILLSTREAM_OPERATORS_WINDOW_ASSIGNER_H_
#define TILLSTREAM_OPERATORS_WINDOW_ASSIGNER_H_

#include <cstdint>

#include "absl/time/time.h"
#include "engine/pipeline_config.h"
#include "engine/timestamp.h"

namespace tillstream {

// Where the time windows of a KPI rule fall (sessions excepted: they depend
// on the events and live in the operator).
//  - tumbling in UTC: [k*size, (k+1)*size), aligned to the epoch;
//  - tumbling in a time zone: local days from local midnight to local
//    midnight (23 or 25 hours at daylight-saving changes), or parts of a
//    local day (local hours: each real hour its own window, also on the
//    night the clocks go back);
//  - hopping: windows of `size` starting every `slide`, aligned to the epoch;
//    an event belongs to size/slide of them.
// A value type, copied into each operator; no virtual calls per event.
class WindowAssigner {
 public:
  explicit WindowAssigner(const KpiRuleConfig& rule);

  // Calls visit(start) for every window containing `ts`, in start order.
  template <typename Visit>
  void ForEachWindow(int64_t ts, Visit visit) const {
    if (type_ != WindowType::kHopping) {
      visit(TumblingStart(ts));
      return;
    }
    const int64_t last = FloorTo(ts, slide_);
    for (int64_t start = last - size_ + slide_; start <= last;
         start += slide_) {
      if (start + size_ > ts) visit(start);
    }
  }
  // The end of the window starting at `start`.
  int64_t End(int64_t start) const;
  // The smallest window start whose window ends after `watermark`: every
  // window starting before it has ended.
  int64_t FirstOpenStart(Timestamp watermark) const;

  // Tumbling windows as a sequence of periods (for rolling rules): the
  // period index of a window start, and the start of a period index.
  int64_t PeriodIndex(int64_t start) const;
  int64_t PeriodStart(int64_t index) const;
  // The period index of the tumbling window containing `ts`.
  int64_t PeriodOf(int64_t ts) const { return PeriodIndex(TumblingStart(ts)); }

 private:
  static int64_t FloorTo(int64_t value, int64_t step) {
    int64_t remainder = value % step;
    return remainder < 0 ? value - remainder - step : value - remainder;
  }
  int64_t TumblingStart(int64_t ts) const;

  WindowType type_;
  int64_t size_;
  int64_t slide_;
  bool zoned_;
  bool whole_days_;  // zoned windows of exactly one local day
  absl::TimeZone zone_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_OPERATORS_WINDOW_ASSIGNER_H_
