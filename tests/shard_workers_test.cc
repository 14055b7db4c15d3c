// ShardWorkers runs each phase's task once on every shard and returns only
// when all of them are done, so what a shard wrote in a phase is visible to
// the caller after Run. Hand-overs take one of two ways (a short spin, or a
// sleep on a condition variable when the other side is slow): phases
// follow each other at once, and some start only after the workers have
// gone to sleep, so both ways are taken.
#include "engine/shard_workers.h"

#include <pthread.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tillstream {
namespace {

TEST(ShardWorkersTest, EveryShardRunsEachPhaseOnceAndTheCallerSeesItsWrites) {
  constexpr size_t kShards = 4;
  constexpr int kPhases = 3000;
  ShardWorkers workers(kShards);
  ASSERT_EQ(workers.size(), kShards);
  // Plain ints: only Run's hand-over orders the shards' writes and the
  // caller's reads (ThreadSanitizer checks that).
  std::vector<int> runs(kShards, 0);
  std::vector<int> last_phase(kShards, -1);
  for (int phase = 0; phase < kPhases; ++phase) {
    // Every 500th phase starts late: the workers have stopped spinning and
    // sleep, so the condition variable wakes them.
    if (phase % 500 == 499)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    workers.Run([&](size_t shard) {
      ++runs[shard];
      last_phase[shard] = phase;
    });
    for (size_t shard = 0; shard < kShards; ++shard) {
      ASSERT_EQ(runs[shard], phase + 1) << "shard " << shard;
      ASSERT_EQ(last_phase[shard], phase) << "shard " << shard;
    }
  }
}

TEST(ShardWorkersTest, ASlowShardHoldsRunUntilItFinishes) {
  ShardWorkers workers(2);
  for (int phase = 0; phase < 20; ++phase) {
    bool slow_done = false;
    workers.Run([&](size_t shard) {
      // Longer than the spin: the caller goes to sleep and is woken.
      if (shard == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        slow_done = true;
      }
    });
    ASSERT_TRUE(slow_done) << "phase " << phase;
  }
}

TEST(ShardWorkersTest, OneShardRunsOnTheCaller) {
  ShardWorkers workers(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  workers.Run([&](size_t) { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, caller);
}

// A profile (`perf report --sort comm`, `top -H`) tells the workers apart:
// shard N > 0 runs on a thread named ts:workerN; shard 0 is the caller's.
TEST(ShardWorkersTest, WorkerThreadsAreNamedByShard) {
  ShardWorkers workers(3);
  std::vector<std::string> names(3);
  workers.Run([&](size_t shard) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    names[shard] = name;
  });
  EXPECT_NE(names[0], "ts:worker0");
  EXPECT_EQ(names[1], "ts:worker1");
  EXPECT_EQ(names[2], "ts:worker2");
}

}  // namespace
}  // namespace tillstream
