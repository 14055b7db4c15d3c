#ifndef TILLSTREAM_ENGINE_HTTP_SERVER_H_
#define TILLSTREAM_ENGINE_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "engine/clock.h"
#include "engine/engine_metrics.h"
#include "engine/pipeline_config.h"
#include "engine/pipeline_runner.h"
#include "engine/scale_out_metrics.h"
#include "engine/worker_queries.h"

namespace httplib {
class Server;
}

namespace tillstream {

// The engine's HTTP endpoints (cpp-httplib, its own threads):
//   GET /                        the live dashboard (one self-contained page)
//   GET /metrics                 Prometheus text format
//   GET /health                  200 when ready, else 503 (JSON either way)
//   GET /pipeline                the effective configuration, secrets redacted
//   GET /kpis                    the KPI rules
//   GET /kpis/<rule>?group=K     a group's open windows and last closed one
//   GET /kpis/<rule>/series      closed windows per group (?limit=N)
//   GET /rolling/<rule>          the latest rolling period per group
//   GET /alerts?state=firing     alerts (firing, resolved or all)
// Answers about live state come from the worker between batches
// (WorkerQueries); /metrics and /pipeline never wait for it. With
// scale_out, only /metrics, /health and /pipeline are served.
class HttpServer {
 public:
  struct Context {
    const PipelineConfig* config = nullptr;
    PipelineRunner* runner = nullptr;  // touched only through `queries`
    WorkerQueries* queries = nullptr;
    const EngineMetrics* metrics = nullptr;
    Clock* clock = nullptr;
    // scale_out: /health from the threads' parts, and no live-state
    // queries (runner and queries null): an instance holds only its tasks'
    // state, the outputs hold all of it.
    const ScaleOutMetrics* scale_out = nullptr;
  };
  // Binds config.http (port 0: any free port) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Context context);
  ~HttpServer();

  int port() const { return port_; }

 private:
  explicit HttpServer(Context context);
  void AddRoutes();

  Context context_;
  std::string pipeline_json_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_HTTP_SERVER_H_
