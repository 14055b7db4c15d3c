#ifndef TILLSTREAM_STATE_ROCKSDB_STATE_STORE_H_
#define TILLSTREAM_STATE_ROCKSDB_STATE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "state/state_store.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace tillstream {

struct RocksDbOptions {
  std::string dir;                       // one database per engine instance
  std::vector<std::string> families;     // created when missing
  int64_t block_cache_bytes = 64 << 20;  // shared read cache, default 64 MiB
  int64_t write_buffer_bytes = 32
                               << 20;  // memtable budget shared by all families
  bool sync = true;                    // fsync each batch (a checkpoint)
};

// StateStore on RocksDB: one DB in `dir`, a column family per operator, each
// Write() one atomic rocksdb::WriteBatch.
class RocksDbStateStore final : public StateStore {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDbStateStore>> Open(
      const RocksDbOptions& options);
  ~RocksDbStateStore() override;

  absl::Status Write(const StateWriteBatch& batch) override;
  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view family, absl::string_view key) override;
  absl::Status Scan(
      absl::string_view family, absl::string_view prefix,
      absl::FunctionRef<void(absl::string_view, absl::string_view)> visit)
      override;

 private:
  RocksDbStateStore() = default;
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> Family(
      absl::string_view name) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
  bool sync_ = true;
};

}  // namespace tillstream

#endif  // TILLSTREAM_STATE_ROCKSDB_STATE_STORE_H_
