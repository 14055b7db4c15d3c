#include "state/rocksdb_state_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

namespace tillstream {
namespace {

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("rocksdb ", what, ": ", status.ToString()));
}

rocksdb::Slice ToSlice(absl::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStateStore>> RocksDbStateStore::Open(
    const RocksDbOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache =
      rocksdb::NewLRUCache(static_cast<size_t>(options.block_cache_bytes));
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(
          static_cast<size_t>(options.write_buffer_bytes), table.block_cache);

  // Families already on disk are opened too (RocksDB insists), so that a
  // state of other rules or another worker count reaches the engine, which
  // says what differs, rather than failing here. The missing ones are
  // created after, in one call: RocksDB's create_missing_column_families
  // rewrites and re-reads its options file once per family, which for the
  // hundred families of a scaled-out state was most of a start.
  std::vector<std::string> existing;
  if (!rocksdb::DB::ListColumnFamilies(db_options, options.dir, &existing)
           .ok()) {
    existing.clear();  // a new database
  }
  existing.push_back(rocksdb::kDefaultColumnFamilyName);
  std::sort(existing.begin(), existing.end());
  existing.erase(std::unique(existing.begin(), existing.end()), existing.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : existing)
    descriptors.emplace_back(name, family_options);
  std::vector<std::string> missing;
  for (const std::string& name : options.families) {
    if (!std::binary_search(existing.begin(), existing.end(), name))
      missing.push_back(name);
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());

  auto store = std::unique_ptr<RocksDbStateStore>(new RocksDbStateStore());
  store->sync_ = options.sync;
  rocksdb::DB* db = nullptr;
  absl::Status status =
      FromRocks(rocksdb::DB::Open(db_options, options.dir, descriptors,
                                  &store->handles_, &db),
                absl::StrCat("open ", options.dir));
  if (!status.ok()) return status;
  store->db_.reset(db);
  if (!missing.empty()) {
    std::vector<rocksdb::ColumnFamilyHandle*> created;
    status =
        FromRocks(db->CreateColumnFamilies(family_options, missing, &created),
                  absl::StrCat("create column families in ", options.dir));
    store->handles_.insert(store->handles_.end(), created.begin(),
                           created.end());
    if (!status.ok()) return status;
  }
  for (rocksdb::ColumnFamilyHandle* handle : store->handles_)
    store->by_name_[handle->GetName()] = handle;
  return store;
}

RocksDbStateStore::~RocksDbStateStore() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  if (db_) db_->Close().PermitUncheckedError();
}

absl::StatusOr<rocksdb::ColumnFamilyHandle*> RocksDbStateStore::Family(
    absl::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no state column family \"", name, "\""));
  }
  return it->second;
}

absl::Status RocksDbStateStore::Write(const StateWriteBatch& batch) {
  rocksdb::WriteBatch rocks_batch;
  for (const StateWriteBatch::Write& write : batch.writes()) {
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> family = Family(write.family);
    if (!family.ok()) return family.status();
    rocksdb::Status status =
        write.value ? rocks_batch.Put(*family, write.key, *write.value)
                    : rocks_batch.Delete(*family, write.key);
    if (!status.ok()) return FromRocks(status, "batch");
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_;
  return FromRocks(db_->Write(write_options, &rocks_batch), "write");
}

absl::StatusOr<std::optional<std::string>> RocksDbStateStore::Get(
    absl::string_view family, absl::string_view key) {
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> handle = Family(family);
  if (!handle.ok()) return handle.status();
  std::string value;
  rocksdb::Status status =
      db_->Get(rocksdb::ReadOptions(), *handle, ToSlice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return FromRocks(status, "get");
  return std::optional<std::string>(std::move(value));
}

absl::Status RocksDbStateStore::Scan(
    absl::string_view family, absl::string_view prefix,
    absl::FunctionRef<void(absl::string_view, absl::string_view)> visit) {
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> handle = Family(family);
  if (!handle.ok()) return handle.status();
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), *handle));
  for (it->Seek(ToSlice(prefix));
       it->Valid() && it->key().starts_with(ToSlice(prefix)); it->Next()) {
    visit(absl::string_view(it->key().data(), it->key().size()),
          absl::string_view(it->value().data(), it->value().size()));
  }
  return FromRocks(it->status(), "scan");
}

}  // namespace tillstream
