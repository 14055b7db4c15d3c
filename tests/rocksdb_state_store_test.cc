#include "state/rocksdb_state_store.h"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tillstream {
namespace {

class RocksDbStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            absl::StrCat("tillstream-state-", getpid()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<RocksDbStateStore> Open() {
    auto store = RocksDbStateStore::Open(
        {.dir = dir_, .families = {"window_kpis", "offsets"}});
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }
  std::string dir_;
};

TEST_F(RocksDbStateStoreTest, BatchIsDurableAcrossReopen) {
  {
    auto store = Open();
    StateWriteBatch batch;
    batch.Put("window_kpis", "p0/a", "1");
    batch.Put("window_kpis", "p0/b", "2");
    batch.Put("window_kpis", "p1/a", "3");
    batch.Put("offsets", "p0", "42");
    ASSERT_TRUE(store->Write(batch).ok());
  }
  auto store = Open();
  EXPECT_EQ(*store->Get("offsets", "p0").value(), "42");
  EXPECT_FALSE(store->Get("offsets", "p9").value().has_value());
  std::map<std::string, std::string> p0;
  ASSERT_TRUE(store
                  ->Scan("window_kpis", "p0/",
                         [&](absl::string_view k, absl::string_view v) {
                           p0[std::string(k)] = std::string(v);
                         })
                  .ok());
  EXPECT_EQ(p0,
            (std::map<std::string, std::string>{{"p0/a", "1"}, {"p0/b", "2"}}));
}

TEST_F(RocksDbStateStoreTest, DeletesAndUnknownFamily) {
  auto store = Open();
  StateWriteBatch batch;
  batch.Put("offsets", "p0", "1");
  batch.Delete("offsets", "p0");
  ASSERT_TRUE(store->Write(batch).ok());
  EXPECT_FALSE(store->Get("offsets", "p0").value().has_value());
  StateWriteBatch bad;
  bad.Put("offsets", "p1", "1");
  bad.Put("nope", "k", "v");
  EXPECT_EQ(store->Write(bad).code(), absl::StatusCode::kNotFound);
  // All or nothing: the valid write of the refused batch is not applied.
  EXPECT_FALSE(store->Get("offsets", "p1").value().has_value());
}

}  // namespace
}  // namespace tillstream
