#include "connectors/file_source.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

class RecordingListener final : public PartitionListener {
 public:
  void OnPartitionsAssigned(std::span<const PartitionId> p) override {
    assigned += p.size();
  }
  void OnPartitionsRevoked(std::span<const PartitionId>) override {}
  void OnPartitionEnd(PartitionId) override { ++ended; }
  size_t assigned = 0;
  int ended = 0;
};

std::vector<std::string> Payloads(const RecordBatch& batch) {
  std::vector<std::string> payloads;
  for (const SourceRecord& r : batch.records) payloads.emplace_back(r.payload);
  return payloads;
}

// Reads the whole file with the given read size into two batches in turn,
// checking that each batch is still intact after the next Poll (the
// contract: valid until the second Poll after it) and that the progress
// reaches the file's size; returns "line:text" items.
std::vector<std::string> ReadAll(const std::string& content, size_t read_size,
                                 size_t batch, bool read_ahead = true) {
  // A file of this process's own: CTest runs each test as a process, two at
  // a time, and two tests writing one path read each other's lines.
  const std::string path =
      std::filesystem::temp_directory_path() /
      ("tillstream-file-source-" + std::to_string(getpid()) + ".ndjson");
  std::ofstream(path, std::ios::binary) << content;
  auto source = FileSource::Open({.path = path,
                                  .max_batch_records = batch,
                                  .read_size = read_size,
                                  .read_ahead = read_ahead});
  EXPECT_TRUE(source.ok());
  RecordingListener listener;
  RecordBatch batches[2];
  std::vector<std::string> previous;  // batches[1 - current], as read
  std::vector<std::string> out;
  for (size_t current = 0;; current = 1 - current) {
    absl::StatusOr<PollResult> result =
        (*source)->Poll(&listener, absl::ZeroDuration(), &batches[current]);
    EXPECT_TRUE(result.ok());
    EXPECT_EQ(Payloads(batches[1 - current]), previous);
    if (*result == PollResult::kEndOfInput) break;
    for (const SourceRecord& r : batches[current].records) {
      out.push_back(std::to_string(r.offset.value) + ":" +
                    std::string(r.payload));
    }
    previous = Payloads(batches[current]);
  }
  EXPECT_EQ((*source)->Progress().done, static_cast<int64_t>(content.size()));
  EXPECT_EQ((*source)->Progress().total, static_cast<int64_t>(content.size()));
  EXPECT_EQ(listener.assigned, 1u);
  EXPECT_EQ(listener.ended, 1);
  std::filesystem::remove(path);
  return out;
}

TEST(FileSourceTest, LinesAcrossReadBoundariesBlankLinesAndCrLf) {
  std::string content = "{\"a\":1}\r\n\n  \n{\"b\":22}\n" +
                        std::string(100, 'x') + "\n\t \r\n {\"c\":3}";
  std::vector<std::string> expected = {"1:{\"a\":1}", "4:{\"b\":22}",
                                       "5:" + std::string(100, 'x'),
                                       "7: {\"c\":3}"};
  // Read ahead on a thread and on the caller's; a line longer than a read
  // (gathered) and lines cut by a read's edge (moved in front of the next).
  for (bool read_ahead : {true, false}) {
    for (size_t read_size : {1u, 3u, 7u, 64u, 1u << 20}) {
      for (size_t batch : {1u, 2u, 1024u}) {
        EXPECT_EQ(ReadAll(content, read_size, batch, read_ahead), expected)
            << read_size << "/" << batch << "/" << read_ahead;
      }
    }
  }
}

// Many reads in turn through the four chunks the source reads ahead into,
// with lines longer and shorter than the room in front of a chunk (64 KiB):
// every line whole, in order.
TEST(FileSourceTest, LongAndShortLinesThroughManyReads) {
  std::string content;
  std::vector<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    const size_t length = i % 50 == 7 ? 200'000 + i : 10 + (i * 7919) % 500;
    std::string line(length, static_cast<char>('a' + i % 26));
    line.front() = '{';
    expected.push_back(std::to_string(i + 1) + ":" + line);
    content += line + "\n";
  }
  for (bool read_ahead : {true, false}) {
    for (size_t read_size : {4096u, 100'000u, 1u << 20}) {
      EXPECT_EQ(ReadAll(content, read_size, 16, read_ahead), expected)
          << read_size << "/" << read_ahead;
    }
  }
}

TEST(FileSourceTest, EmptyFileEndsAtOnce) {
  EXPECT_TRUE(ReadAll("", 16, 4).empty());
}

TEST(FileSourceTest, MissingFileIsAnError) {
  EXPECT_EQ(FileSource::Open({.path = "/nonexistent.ndjson"}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tillstream
