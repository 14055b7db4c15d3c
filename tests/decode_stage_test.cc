// Decoding ahead on a thread gives the worker exactly what decoding inline
// gives, record by record, whichever side decodes a chunk, and each event
// the thread decoded stays valid until the batch is finished (its strings
// no longer point into the thread's decoder scratch, which the next record
// reuses). ChunkedDecode, which both sides (and the workers of `workers: N`)
// claim chunks through, is also driven by three threads at once.
#include "engine/decode_stage.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

std::string Order(int i) {
  // Every string a view of the payload: nothing to copy but the lines.
  if (i % 3 == 1) {
    return absl::StrCat(R"({"order_id":"o-)", i, R"(","ts":)",
                        1700000000000 + i, R"(,"store_id":"s-)", i % 7,
                        R"(","currency":"EUR","lines":[{"sku":"p)", i,
                        R"(","qty":1,"unit_price":"2.00"}]})");
  }
  // Escapes make the decoder unescape into its scratch, and the default
  // currency is the decoder's.
  return absl::StrCat(R"({"order_id":"o-)", i, R"(","ts":)", 1700000000000 + i,
                      R"(,"store_id":"s-\u00e9)", i % 7,
                      R"(","customer_id":"c-)", i % 50,
                      R"(","region":"north\tside","lines":[{"sku":"sku-\"a\")",
                      i % 3, R"(","category":"tea","qty":)", 1 + i % 4,
                      R"(,"unit_price":"3.49","unit_cost":"1.20"},{"sku":"b)",
                      i, R"(","qty":2,"unit_price":0.5}]})");
}

// What a worker would keep of a record: its reason, or its decoded values.
std::string Describe(const DecodedRecord& r) {
  if (!r.status.ok()) return absl::StrCat("bad: ", r.status.message());
  const OrderEvent& e = r.event;
  std::string out =
      absl::StrCat(e.order_id, "|", e.store_id, "|", e.customer_id, "|",
                   e.region, "|", e.channel, "|", e.currency, "|",
                   e.ts.millis(), "|", e.totals.amount_cents);
  for (const OrderLine& line : e.lines) {
    absl::StrAppend(&out, "|", line.sku, "/", line.category, "/", line.qty, "/",
                    line.unit_price_cents);
  }
  return out;
}

std::vector<std::string> Payloads(int n) {
  std::vector<std::string> payloads;
  for (int i = 0; i < n; ++i) {
    payloads.push_back(i % 37 == 5 ? std::string(R"({"order_id":"x"})")
                                   : Order(i));
  }
  return payloads;
}

std::vector<SourceRecord> Records(const std::vector<std::string>& payloads) {
  std::vector<SourceRecord> records;
  for (size_t i = 0; i < payloads.size(); ++i) {
    records.push_back(
        {payloads[i], PartitionId{0}, Offset{static_cast<int64_t>(i)}, 0});
  }
  return records;
}

// Each record described when it is taken, and again once the whole batch
// was taken for those the thread decoded (kept: they must still be intact
// then). With `let_the_thread_finish`, the worker waits until the thread
// has decoded every chunk before it takes any (so all are kept); otherwise
// the two share the batch as it happens.
void DecodeAll(DecodeStage* stage, const std::vector<SourceRecord>& records,
               std::vector<std::string>* when_taken,
               std::vector<std::string>* at_end,
               bool let_the_thread_finish = false) {
  stage->Start(records, 1800000000000);
  if (let_the_thread_finish) {
    const size_t chunks = ChunkedDecode::Chunks(records.size());
    while (stage->chunks_decoded_ahead() < chunks) std::this_thread::yield();
  }
  std::vector<const DecodedRecord*> taken;
  for (size_t i = 0; i < records.size(); ++i) {
    taken.push_back(&stage->Get(i));
    when_taken->push_back(Describe(*taken.back()));
    if (let_the_thread_finish) {
      EXPECT_TRUE(taken.back()->kept) << i;
    }
  }
  for (size_t i = 0; i < taken.size(); ++i) {
    at_end->push_back(taken[i]->kept ? Describe(*taken[i]) : (*when_taken)[i]);
  }
  stage->Finish();
}

TEST(DecodeStageTest, AheadOnAThreadEqualsInline) {
  const std::vector<std::string> payloads = Payloads(1000);
  const std::vector<SourceRecord> records = Records(payloads);
  DecodeStage inline_stage({}, /*threaded=*/false);
  DecodeStage ahead({}, /*threaded=*/true);
  ASSERT_FALSE(inline_stage.threaded());
  ASSERT_TRUE(ahead.threaded());
  std::vector<std::string> expected, unused, got, kept;
  DecodeAll(&inline_stage, records, &expected, &unused);
  DecodeAll(&ahead, records, &got, &kept);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(kept, expected);
  // Every record decoded by the thread, and still intact at the end.
  got.clear();
  kept.clear();
  DecodeAll(&ahead, records, &got, &kept, /*let_the_thread_finish=*/true);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(kept, expected);
  EXPECT_EQ(expected[0],
            "o-0|s-\xC3\xA9"
            "0|c-0|north\tside|pos|USD|1700000000000|449|sku-\"a\"0/tea/1/"
            "349|b0//2/50");
  EXPECT_EQ(expected[1],
            "o-1|s-1||unknown|pos|EUR|1700000000001|200|p1//1/200");
  EXPECT_EQ(expected[5], "bad: missing field ts");
}

// The thread decoding ahead is named ts:decode, so a profile of the engine
// tells it from the workers (librdkafka names its own rdk:*).
TEST(DecodeStageTest, TheThreadDecodingAheadIsNamed) {
  const std::vector<std::string> payloads = Payloads(100);
  const std::vector<SourceRecord> records = Records(payloads);
  DecodeStage ahead({}, /*threaded=*/true);
  std::vector<std::string> got, kept;
  // Once a batch is through, the thread has run (and named itself).
  DecodeAll(&ahead, records, &got, &kept, /*let_the_thread_finish=*/true);
  int named = 0;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "ts:decode") ++named;
  }
  EXPECT_EQ(named, 1);
}

TEST(DecodeStageTest, BatchAfterBatchAndEmptyBatches) {
  // Reused buffers: a smaller batch after a larger one, and empty ones.
  DecodeStage inline_stage({}, false);
  DecodeStage ahead({}, true);
  for (int n : {300, 0, 17, 1, 0, 700}) {
    SCOPED_TRACE(n);
    const std::vector<std::string> payloads = Payloads(n);
    const std::vector<SourceRecord> records = Records(payloads);
    std::vector<std::string> expected, unused, got, kept;
    DecodeAll(&inline_stage, records, &expected, &unused);
    DecodeAll(&ahead, records, &got, &kept);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(kept, expected);
  }
}

// Three threads decode one batch together (the workers of `workers: N`):
// each chunk once, and the thread that reads the records in order, decoding
// other chunks while it waits, sees what inline decoding gives.
TEST(ChunkedDecodeTest, ThreadsShareABatchAndTheReaderSeesItInOrder) {
  const std::vector<std::string> payloads = Payloads(2000);
  const std::vector<SourceRecord> records = Records(payloads);
  DecodeStage inline_stage({}, false);
  std::vector<std::string> expected, unused;
  DecodeAll(&inline_stage, records, &expected, &unused);
  ChunkedDecode batch;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    batch.Reset(records);
    std::vector<std::thread> helpers;
    for (int t = 0; t < 2; ++t) {
      helpers.emplace_back([&batch] {
        OrderDecoder decoder({});
        decoder.SetWallClock(1800000000000);
        while (batch.DecodeNext(&decoder)) {
        }
      });
    }
    OrderDecoder reader_decoder({});
    reader_decoder.SetWallClock(1800000000000);
    std::vector<std::string> got;
    for (size_t i = 0; i < records.size(); ++i) {
      const DecodedRecord& record = batch.Wait(i, &reader_decoder);
      EXPECT_TRUE(record.kept);
      got.push_back(Describe(record));
    }
    for (std::thread& helper : helpers) helper.join();
    EXPECT_EQ(batch.chunks_decoded(), ChunkedDecode::Chunks(records.size()));
    EXPECT_EQ(got, expected);
  }
}

}  // namespace
}  // namespace tillstream
