// The HTTP endpoints against a running pipeline: the embedded broker over
// real sockets, a worker thread running the pipeline, the server on a free
// port, and a client asking what an ops dashboard would ask. Answers are
// compared with what the pipeline emitted.
#include "engine/http_server.h"

#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "connectors/embedded_broker.h"
#include "connectors/kafka_source.h"
#include "examples/generator/traffic_generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "simdjson.h"
#include "tests/pipeline_test_support.h"

namespace tillstream {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

PipelineConfig TestConfig() {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(
      "pipeline: http-test\n"
      "source: {topic: http.orders, max_out_of_orderness: 5s, idle_timeout: "
      "1s}\n"
      "kpis:\n"
      "  - {name: store_day, group_by: [store_id], window: {size: 1d}, "
      "top_skus: 3}\n"
      "rolling: [{name: store_3d, kpi: store_day, span: 3}]\n"
      "anomalies: [{name: drop, kpi: store_day, history: 4, min_drop: 0.5}]\n"
      "outputs: {kpis: k, rolling: r, alerts: a, deadletter: d, late: l}\n"
      "http: {port: 0}\n"
      "kafka: {properties: {sasl.password: not-for-your-eyes}}\n",
      "http.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

// Parses a JSON body (EXPECTs it parses).
simdjson::dom::element Json(simdjson::dom::parser& parser,
                            const std::string& body) {
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(body).get(e), simdjson::SUCCESS) << body;
  return e;
}

std::string Minify(simdjson::dom::element e) {
  return std::string(simdjson::minify(e));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = EmbeddedBroker::Start();
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->CreateTopic(config_.source.topic, 4).ok());
    auto source = KafkaSource::Create({.brokers = broker_->bootstrap(),
                                       .topic = config_.source.topic,
                                       .group_id = "http-test",
                                       .properties = {},
                                       .bounded = false,
                                       .embedded_broker = true,
                                       .max_batch_records = 4096});
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    RunnerOptions options;
    options.queries = &queries_;
    options.metrics = &metrics_;
    runner_ = std::make_unique<PipelineRunner>(config_, source_.get(), &sink_,
                                               &clock_, std::move(options));
    auto server = HttpServer::Start({.config = &config_,
                                     .runner = runner_.get(),
                                     .queries = &queries_,
                                     .metrics = &metrics_,
                                     .clock = &clock_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override { StopWorker(); }

  void StartWorker() {
    worker_ = std::thread([this] { status_ = runner_->Run(stop_); });
  }
  void StopWorker() {
    stop_ = true;
    if (worker_.joinable()) worker_.join();
  }
  // GET `path`: (status, body).
  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Result res = client_->Get(path.c_str());
    if (!res) return {0, ""};
    return {res->status, res->body};
  }
  // Asks until `done(body)` or 60 s: a bounded wait on a condition.
  bool WaitFor(const std::string& path,
               const std::function<bool(int, const std::string&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto [status, body] = Get(path);
      if (done(status, body)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  PipelineConfig config_ = TestConfig();
  std::unique_ptr<EmbeddedBroker> broker_;
  std::unique_ptr<KafkaSource> source_;
  testing::CollectingSink sink_;
  SystemClock clock_;
  WorkerQueries queries_;
  EngineMetrics metrics_;
  std::unique_ptr<PipelineRunner> runner_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::atomic<bool> stop_{false};
  std::thread worker_;
  absl::Status status_;
};

TEST_F(HttpServerTest, NotReadyWhileTheWorkerDoesNotAnswer) {
  // No worker running: questions time out; /metrics and /pipeline still work.
  auto [status, body] = Get("/health");
  EXPECT_EQ(status, 503);
  EXPECT_THAT(body, HasSubstr("did not answer in time"));
  EXPECT_EQ(Get("/metrics").first, 200);
  EXPECT_EQ(Get("/pipeline").first, 200);
}

// scale_out: /metrics, /health and /pipeline from the threads' parts; the
// live-state queries are refused with the reason (an instance holds only
// its tasks' state).
TEST(ScaleOutHttpTest, ServesMetricsHealthAndPipelineOnly) {
  PipelineConfig config = TestConfig();
  SystemClock clock;
  EngineMetrics metrics;
  ScaleOutMetrics parts(&metrics, 1);
  auto server = HttpServer::Start({.config = &config,
                                   .metrics = &metrics,
                                   .clock = &clock,
                                   .scale_out = &parts});
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto get = [&](const char* path) {
    httplib::Result res = client.Get(path);
    return res ? std::pair{res->status, res->body} : std::pair{0, ""};
  };
  EXPECT_THAT(get("/health"), Pair(503, HasSubstr("\"status\":\"starting\"")));
  MetricsSnapshot ingest;
  ingest.records_in = 7;
  ingest.partitions = {{.partition = 0, .lag = 0, .caught_up = true}};
  ingest.assigned_partitions = 1;
  parts.Publish(0, ingest);
  MetricsSnapshot tasks;
  tasks.tasks = 2;
  parts.Publish(1, tasks);
  EXPECT_THAT(get("/health"), Pair(200, HasSubstr("\"tasks\":2")));
  EXPECT_THAT(get("/metrics"),
              Pair(200, HasSubstr("\ntillstream_records_in_total 7\n")));
  EXPECT_EQ(get("/pipeline").first, 200);
  for (const char* path :
       {"/", "/kpis", "/kpis/store_day?group=store_id=s-1",
        "/kpis/store_day/series", "/rolling/store_3d", "/alerts"}) {
    EXPECT_THAT(get(path), Pair(404, HasSubstr("not served with scale_out")))
        << path;
  }
}

TEST_F(HttpServerTest, EveryEndpointAgainstALivePipeline) {
  // 8 days of 5 stores; s-000 loses 95% of its sales on days 6 and 7.
  TrafficOptions options;
  options.seed = 3;
  options.orders = 6000;
  options.stores = 5;
  options.days = 8;
  options.late_rate = 0;
  options.drops = {{.store = 0, .day = 6, .fraction = 0.95},
                   {.store = 0, .day = 7, .fraction = 0.95}};
  TrafficGenerator generator(options);
  std::vector<std::pair<std::string, std::string>> records;
  std::string record, key;
  while (generator.Next(&record, &key)) records.emplace_back(key, record);
  testing::ProduceAll(broker_->bootstrap(), config_.source.topic, records);
  StartWorker();

  // Ready once every partition is assigned and caught up.
  ASSERT_TRUE(WaitFor(
      "/health", [](int status, const std::string&) { return status == 200; }));
  // Everything consumed; the alert of day 6 is firing (day 7 keeps it so).
  ASSERT_TRUE(WaitFor("/metrics", [&](int, const std::string& body) {
    return body.find(absl::StrCat("tillstream_events_in_total ", records.size(),
                                  "\n")) != std::string::npos;
  }));
  ASSERT_TRUE(WaitFor("/alerts?state=firing",
                      [](int, const std::string& b) {
                        return b.find("\"state\":\"firing\"") !=
                               std::string::npos;
                      }))
      << "no alert; watermarks and lags:\n"
      << Get("/metrics").second;

  // A parser's document lives until its next parse: one for answers, one
  // for emitted lines.
  simdjson::dom::parser parser, line_parser;
  std::map<std::string, std::pair<int, std::string>> answers;
  for (const char* path :
       {"/health", "/kpis", "/kpis/store_day?group=store_id=s-001",
        "/kpis/store_day?group=store_id%3Ds-001",
        "/kpis/store_day/series?limit=3", "/rolling/store_3d",
        "/alerts?state=firing", "/alerts", "/pipeline", "/metrics", "/",
        "/kpis/store_day?group=store_id=s-999", "/kpis/nope?group=x",
        "/kpis/store_day", "/alerts?state=open", "/rolling/nope",
        "/kpis/store_day/series?limit=0"}) {
    answers[path] = Get(path);
  }
  // The state the answers describe is the state after the last batch: no
  // input arrives after this point, so the emitted outputs are final.
  StopWorker();
  ASSERT_TRUE(status_.ok()) << status_;

  // Status codes of the errors, each with a JSON reason.
  for (const auto& [path, code] : std::vector<std::pair<std::string, int>>{
           {"/kpis/store_day?group=store_id=s-999", 404},
           {"/kpis/nope?group=x", 404},
           {"/kpis/store_day", 400},
           {"/alerts?state=open", 400},
           {"/rolling/nope", 404},
           {"/kpis/store_day/series?limit=0", 400}}) {
    EXPECT_EQ(answers[path].first, code) << path;
    EXPECT_THAT(answers[path].second, HasSubstr("{\"error\":")) << path;
  }

  // /health: ready, every partition caught up.
  auto health = Json(parser, answers["/health"].second);
  EXPECT_EQ(answers["/health"].first, 200);
  EXPECT_EQ(std::string(health["status"].get_string().value()), "ready");
  EXPECT_EQ(health["partitions"].get_array().size(), 4u);
  for (auto p : health["partitions"].get_array())
    EXPECT_TRUE(p["caught_up"].get_bool().value());

  // /kpis: the rules and their groups.
  EXPECT_THAT(answers["/kpis"].second,
              HasSubstr("[{\"name\":\"store_day\",\"groups\":5,"));

  // /kpis/<rule>?group=: the last closed window is the last snapshot
  // emitted for the group; the open one is the day in progress. The key
  // may be given as written or URL-encoded.
  EXPECT_EQ(answers["/kpis/store_day?group=store_id=s-001"],
            answers["/kpis/store_day?group=store_id%3Ds-001"]);
  auto kpi =
      Json(parser, answers["/kpis/store_day?group=store_id=s-001"].second);
  std::string last_emitted;
  for (const std::string& line :
       sink_.outputs[static_cast<int>(OutputKind::kKpis)]) {
    if (line.find("\"store_id\":\"s-001\"") != std::string::npos)
      last_emitted = line;
  }
  ASSERT_FALSE(last_emitted.empty());
  EXPECT_EQ(Minify(kpi["last_closed"]), last_emitted);
  EXPECT_THAT(Minify(kpi["last_closed"]), HasSubstr("\"top_skus\":[{"));
  ASSERT_EQ(kpi["open"].get_array().size(), 1u);
  auto open = kpi["open"].get_array().at(0).value();
  EXPECT_FALSE(open["final"].get_bool().value());
  EXPECT_GT(
      std::string(open["window"]["start"].get_string().value()),
      std::string(kpi["last_closed"]["window"]["start"].get_string().value()));

  // /kpis/<rule>/series: the last 3 closed windows of each group, as
  // emitted.
  auto series = Json(parser, answers["/kpis/store_day/series?limit=3"].second);
  EXPECT_EQ(series["groups"].get_array().size(), 5u);
  for (auto group : series["groups"].get_array()) {
    const std::string store(group["group"]["store_id"].get_string().value());
    std::vector<std::string> emitted;  // revenue per window, as emitted
    for (const std::string& line :
         sink_.outputs[static_cast<int>(OutputKind::kKpis)]) {
      auto e = Json(line_parser, line);
      if (std::string(e["group"]["store_id"].get_string().value()) == store)
        emitted.push_back(std::string(e["revenue"].get_string().value()));
    }
    ASSERT_GE(emitted.size(), 3u);
    auto windows = group["windows"].get_array();
    ASSERT_EQ(windows.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(std::string(windows.at(i)["revenue"].get_string().value()),
                emitted[emitted.size() - 3 + i])
          << store;
    }
  }

  // /rolling/<rule>: the latest rolling snapshot of each group, as emitted.
  std::map<std::string, std::string> last_rolling;
  for (const std::string& line :
       sink_.outputs[static_cast<int>(OutputKind::kRolling)]) {
    auto e = Json(line_parser, line);
    last_rolling[std::string(e["group"]["store_id"].get_string().value())] =
        line;
  }
  auto rolling = Json(parser, answers["/rolling/store_3d"].second);
  EXPECT_EQ(rolling["groups"].get_array().size(), 5u);
  for (auto group : rolling["groups"].get_array()) {
    EXPECT_EQ(Minify(group),
              last_rolling[std::string(
                  group["group"]["store_id"].get_string().value())]);
  }

  // /alerts: the open incident of s-000, as last emitted.
  const std::vector<std::string>& alerts =
      sink_.outputs[static_cast<int>(OutputKind::kAlerts)];
  ASSERT_FALSE(alerts.empty());
  auto firing = Json(parser, answers["/alerts?state=firing"].second);
  ASSERT_EQ(firing.get_array().size(), 1u);
  EXPECT_EQ(Minify(firing.get_array().at(0).value()), alerts.back());
  EXPECT_THAT(alerts.back(), HasSubstr("\"group\":{\"store_id\":\"s-000\"}"));
  EXPECT_EQ(Json(parser, answers["/alerts"].second).get_array().size(), 1u);

  // /pipeline: the effective configuration, the secret redacted.
  EXPECT_EQ(answers["/pipeline"].second, EffectiveConfigJson(config_));
  EXPECT_THAT(answers["/pipeline"].second,
              HasSubstr("\"sasl.password\":\"[redacted]\""));
  EXPECT_THAT(answers["/pipeline"].second,
              ::testing::Not(HasSubstr("not-for-your-eyes")));

  // /: the dashboard page.
  EXPECT_EQ(answers["/"].first, 200);
  EXPECT_THAT(answers["/"].second, HasSubstr("<svg id=\"revenue-chart\""));

  // /metrics: Prometheus text format, checked by the Prometheus project's
  // own parser (Debian's python3-prometheus-client), with the run's counts.
  const std::string& metrics = answers["/metrics"].second;
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("tillstream_events_in_total ",
                                              records.size(), "\n")));
  EXPECT_THAT(metrics, HasSubstr("tillstream_consumer_lag{partition=\"3\"} 0"));
  EXPECT_THAT(metrics, HasSubstr("tillstream_alerts_firing 1\n"));
  const std::string file = ::testing::TempDir() + "/metrics.txt";
  std::FILE* out = std::fopen(file.c_str(), "w");
  ASSERT_NE(out, nullptr);
  std::fwrite(metrics.data(), 1, metrics.size(), out);
  std::fclose(out);
  const std::string check = absl::StrCat(
      "/usr/bin/python3 -c 'import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "families = "
      "list(text_string_to_metric_families(open(sys.argv[1]).read()))\n"
      "print(len(families), \"families\", sum(len(f.samples) for f in "
      "families), \"samples\")' ",
      file);
  std::FILE* parsed = popen(check.c_str(), "r");
  ASSERT_NE(parsed, nullptr);
  char line[256] = {};
  const bool read = std::fgets(line, sizeof(line), parsed) != nullptr;
  EXPECT_EQ(pclose(parsed), 0) << "the Prometheus parser refused /metrics:\n"
                               << metrics;
  ASSERT_TRUE(read);
  std::printf("/metrics parsed by prometheus_client: %s", line);
  EXPECT_THAT(std::string(line), HasSubstr("families"));
}

}  // namespace
}  // namespace tillstream
