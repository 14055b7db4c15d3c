// Replays a fuzz target's corpus (seeds and regression inputs) as a test, so
// `make test` re-checks every input that ever found a bug, without clang.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

TEST(FuzzReplayTest, EveryCorpusInputRunsClean) {
  int inputs = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(FUZZ_CORPUS_DIR)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string data = bytes.str();
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(
                  reinterpret_cast<const uint8_t*>(data.data()), data.size()),
              0);
    ++inputs;
  }
  EXPECT_GT(inputs, 0) << "empty corpus " << FUZZ_CORPUS_DIR;
}
