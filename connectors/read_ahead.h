#ifndef TILLSTREAM_CONNECTORS_READ_AHEAD_H_
#define TILLSTREAM_CONNECTORS_READ_AHEAD_H_

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace tillstream {

// A piece of a file as read: bytes [begin, end) of `bytes`, with room in
// front (up to 64 KiB), where the reader may put the unconsumed end of the
// chunk before (a line cut by the chunk's edge) without moving this one.
struct ReadChunk {
  std::vector<char> bytes;
  size_t begin = 0;
  size_t end = 0;
  bool at_end() const { return begin == end; }  // the file has no more
};

// Reads a file in chunks of `chunk_size` bytes. `threaded`: a thread of its
// own reads a few chunks ahead of the caller, so the kernel's copy into them
// (5-8% of the engine's main thread in a file replay) leaves the thread that
// bounds the replay; use it for regular files only, whose reads never
// block. Otherwise (a pipe, a terminal) each chunk is read when asked.
class ReadAhead {
 public:
  ReadAhead(std::FILE* file, size_t chunk_size, bool threaded);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next chunk, in file order (at_end() once the file is done: not to
  // be called again); the caller owns it until it gives it back with
  // Release. A failed read is DataLoss.
  absl::StatusOr<ReadChunk*> Next();
  void Release(ReadChunk* chunk);

 private:
  void Loop();
  // Reads into `chunk`; false (and `chunk` at_end()) once the file is done
  // or failed.
  bool Fill(ReadChunk* chunk);

  std::FILE* const file_;
  const size_t chunk_size_;
  const size_t room_;  // in front of each chunk's bytes
  std::vector<std::unique_ptr<ReadChunk>> chunks_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<ReadChunk*> free_;    // guarded by mu_
  std::deque<ReadChunk*> filled_;  // guarded by mu_, in file order
  // Written by whoever reads (the thread, or the caller inline) and read by
  // the caller under mu_ once the last chunk is handed over.
  bool failed_ = false;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace tillstream

#endif  // TILLSTREAM_CONNECTORS_READ_AHEAD_H_
