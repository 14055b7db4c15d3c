#ifndef TILLSTREAM_ENGINE_THREAD_NAME_H_
#define TILLSTREAM_ENGINE_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace tillstream {

// Names the calling thread as `top -H`, `perf report --sort comm` and gdb
// show it, beside librdkafka's own (`rdk:broker1`, `rdk:main`): a profile
// of the engine then tells its decode thread from its workers. Linux keeps
// 15 bytes; a longer name is cut, never refused.
inline void NameThisThread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace tillstream

#endif  // TILLSTREAM_ENGINE_THREAD_NAME_H_
