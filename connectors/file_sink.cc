#include "connectors/file_sink.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tillstream {

absl::string_view OutputFileStem(OutputKind kind) {
  switch (kind) {
    case OutputKind::kKpis:
      return "kpis";
    case OutputKind::kRolling:
      return "rolling";
    case OutputKind::kAlerts:
      return "alerts";
    case OutputKind::kDeadLetter:
      return "deadletter";
    case OutputKind::kLate:
      return "late";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Open(const std::string& dir,
                                                         bool append) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        dir, ": cannot create the output directory: ", error.message()));
  }
  auto sink = std::unique_ptr<FileSink>(new FileSink());
  sink->dir_ = dir;
  for (int k = 0; k < kOutputKindCount; ++k) {
    std::string path = absl::StrCat(
        dir, "/", OutputFileStem(static_cast<OutputKind>(k)), ".ndjson");
    sink->files_[k] = std::fopen(path.c_str(), append ? "ab" : "wb");
    if (sink->files_[k] == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat(
          path, ": cannot open for writing: ", std::strerror(errno)));
    }
    std::setvbuf(sink->files_[k], nullptr, _IOFBF, 1 << 20);
  }
  return sink;
}

FileSink::~FileSink() {
  for (std::FILE* f : files_) {
    if (f != nullptr) std::fclose(f);
  }
}

absl::Status FileSink::Write(const OutputBatch& batch) {
  for (size_t i = 0; i < batch.size(); ++i) {
    OutputBatch::Record record = batch[i];
    std::FILE* f = files_[static_cast<int>(record.kind)];
    if (std::fwrite(record.value.data(), 1, record.value.size(), f) !=
            record.value.size() ||
        std::fputc('\n', f) == EOF) {
      return absl::DataLossError(
          absl::StrCat(dir_, ": write failed: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status FileSink::Flush() {
  for (std::FILE* f : files_) {
    if (std::fflush(f) != 0) {
      return absl::DataLossError(
          absl::StrCat(dir_, ": flush failed: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace tillstream
