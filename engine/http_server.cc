#include "engine/http_server.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/dashboard_html.h"
#include "engine/json_writer.h"
#include "engine/thread_name.h"
#include "httplib.h"

namespace tillstream {
namespace {

constexpr absl::Duration kAnswerTimeout = absl::Seconds(2);
constexpr char kJson[] = "application/json";

int HttpCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

// A JSON answer, or {"error": ...} with the status's HTTP code.
void Reply(const absl::StatusOr<std::string>& answer, httplib::Response& res) {
  if (answer.ok()) {
    res.set_content(*answer, kJson);
    return;
  }
  std::string body = "{\"error\":";
  AppendJsonString(answer.status().message(), &body);
  body.push_back('}');
  res.status = HttpCode(answer.status());
  res.set_content(body, kJson);
}

// The `group` query parameter, taken from the raw target so that an
// unencoded "?group=store_id=s-017" (keys contain '=') reads as written.
std::string GroupParam(const httplib::Request& req) {
  const size_t query = req.target.find('?');
  if (query == std::string::npos) return "";
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(req.target).substr(query + 1), '&')) {
    if (absl::StartsWith(part, "group=")) {
      return httplib::detail::decode_url(std::string(part.substr(6)),
                                         /*convert_plus_to_space=*/true);
    }
  }
  return "";
}

}  // namespace

HttpServer::HttpServer(Context context)
    : context_(context),
      pipeline_json_(EffectiveConfigJson(*context.config)),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Context context) {
  const HttpConfig& http = context.config->http;
  auto server = std::unique_ptr<HttpServer>(new HttpServer(context));
  server->AddRoutes();
  const int port =
      http.port == 0
          ? server->server_->bind_to_any_port(http.address.c_str())
          : (server->server_->bind_to_port(http.address.c_str(), http.port)
                 ? http.port
                 : -1);
  if (port < 0) {
    return absl::UnavailableError(
        absl::StrCat("http: cannot listen on ", http.address, ":", http.port,
                     " (in use, or not an address of this machine)"));
  }
  server->port_ = port;
  httplib::Server* raw = server->server_.get();
  server->thread_ = std::thread([raw] {
    NameThisThread("ts:http");
    raw->listen_after_bind();
  });
  // httplib's stop() is a no-op until the listening loop runs: wait for it
  // (bounded), so that a server stopped at once still ends.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!raw->is_running()) {
    if (absl::Now() > deadline) {
      return absl::InternalError("http: the server did not start listening");
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return server;
}

void HttpServer::AddRoutes() {
  httplib::Server& s = *server_;
  const Context c = context_;
  // Runs `query` on the worker and replies with its answer.
  auto ask = [c](httplib::Response& res, WorkerQueries::Query query) {
    Reply(c.queries->Ask(std::move(query), kAnswerTimeout), res);
  };

  s.Get("/metrics", [c](const httplib::Request&, httplib::Response& res) {
    res.set_content(c.metrics->RenderPrometheus(c.clock->EpochMillis()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/pipeline", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(pipeline_json_, kJson);
  });
  if (c.scale_out != nullptr) {
    s.Get("/health", [c](const httplib::Request&, httplib::Response& res) {
      bool ready = false;
      Reply(c.scale_out->HealthJson(&ready), res);
      if (!ready) res.status = 503;
    });
    for (const char* path :
         {"/", "/kpis", R"(/kpis/.*)", R"(/rolling/.*)", "/alerts"}) {
      s.Get(path, [](const httplib::Request&, httplib::Response& res) {
        Reply(absl::NotFoundError(
                  "not served with scale_out: each instance holds only its "
                  "tasks' state; read the output topics (docs/scale-out.md)"),
              res);
      });
    }
    return;
  }
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kDashboardHtml, "text/html; charset=utf-8");
  });
  s.Get("/health", [c](const httplib::Request&, httplib::Response& res) {
    auto ready = std::make_shared<bool>(false);
    absl::StatusOr<std::string> answer = c.queries->Ask(
        [c, ready]() -> absl::StatusOr<std::string> {
          return c.runner->HealthJson(ready.get());
        },
        kAnswerTimeout);
    Reply(answer, res);
    if (answer.ok() && !*ready) res.status = 503;
  });
  s.Get("/kpis", [c, ask](const httplib::Request&, httplib::Response& res) {
    ask(res, [c]() -> absl::StatusOr<std::string> {
      return c.runner->KpiRulesJson();
    });
  });
  s.Get(R"(/kpis/([^/]+))",
        [c, ask](const httplib::Request& req, httplib::Response& res) {
          const std::string rule = req.matches[1];
          if (!req.has_param("group")) {
            Reply(absl::InvalidArgumentError(
                      "missing ?group=<group key>, e.g. "
                      "?group=store_id=s-017 (keys as in the kpis output)"),
                  res);
            return;
          }
          const std::string group = GroupParam(req);
          ask(res, [c, rule, group] { return c.runner->KpiJson(rule, group); });
        });
  s.Get(R"(/kpis/([^/]+)/series)", [c, ask](const httplib::Request& req,
                                            httplib::Response& res) {
    const std::string rule = req.matches[1];
    size_t limit = LiveView::kSeriesLength;
    if (req.has_param("limit") &&
        (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) ||
         limit == 0)) {
      Reply(absl::InvalidArgumentError("limit: expected a count > 0"), res);
      return;
    }
    ask(res, [c, rule, limit] { return c.runner->SeriesJson(rule, limit); });
  });
  s.Get(R"(/rolling/([^/]+))",
        [c, ask](const httplib::Request& req, httplib::Response& res) {
          const std::string rule = req.matches[1];
          ask(res, [c, rule] { return c.runner->RollingJson(rule); });
        });
  s.Get("/alerts", [c, ask](const httplib::Request& req,
                            httplib::Response& res) {
    const std::string state =
        req.has_param("state") ? req.get_param_value("state") : "all";
    if (state != "firing" && state != "resolved" && state != "all") {
      Reply(
          absl::InvalidArgumentError("state: expected firing, resolved or all"),
          res);
      return;
    }
    ask(res, [c, state]() -> absl::StatusOr<std::string> {
      return c.runner->AlertsJson(state == "all" ? "" : state);
    });
  });
}

}  // namespace tillstream
