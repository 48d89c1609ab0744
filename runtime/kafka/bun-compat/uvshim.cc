// libuv replacements for @confluentinc/kafka-javascript under Bun (see README.md).
// Compiled into the addon next to bunshim.cc by scripts/build-kafka-addon.sh.
#include <pthread.h>
#include <uv.h>

#include <cstdlib>

#define SHIM_LOCAL __attribute__((visibility("hidden")))

// ---- libuv: Bun exports these names as stubs that panic ("unsupported uv
// function"). The addon is linked with -Wl,--wrap=<name>, so its calls land
// here. uv_rwlock_t and uv_thread_t are pthread types on Unix; the bodies
// mirror libuv's src/unix/thread.c, including abort() where libuv aborts.
// They are called from the JS thread (connection lock, consume-loop start and
// join) and from librdkafka-driven worker threads (the rwlock), which is what
// pthread rwlocks are for; nothing here touches V8.
extern "C" {

SHIM_LOCAL int __wrap_uv_rwlock_init(uv_rwlock_t* rwlock) {
  return -pthread_rwlock_init(rwlock, nullptr);
}
SHIM_LOCAL void __wrap_uv_rwlock_destroy(uv_rwlock_t* rwlock) {
  if (pthread_rwlock_destroy(rwlock)) abort();
}
SHIM_LOCAL void __wrap_uv_rwlock_rdlock(uv_rwlock_t* rwlock) {
  if (pthread_rwlock_rdlock(rwlock)) abort();
}
SHIM_LOCAL void __wrap_uv_rwlock_rdunlock(uv_rwlock_t* rwlock) {
  if (pthread_rwlock_unlock(rwlock)) abort();
}
SHIM_LOCAL void __wrap_uv_rwlock_wrlock(uv_rwlock_t* rwlock) {
  if (pthread_rwlock_wrlock(rwlock)) abort();
}
SHIM_LOCAL void __wrap_uv_rwlock_wrunlock(uv_rwlock_t* rwlock) {
  if (pthread_rwlock_unlock(rwlock)) abort();
}

struct ShimThreadStart {
  uv_thread_cb entry;
  void* arg;
};

static void* ShimThreadMain(void* p) {
  ShimThreadStart start = *static_cast<ShimThreadStart*>(p);
  std::free(p);
  start.entry(start.arg);
  return nullptr;
}

// Default pthread attributes: glibc sizes the stack from RLIMIT_STACK, as
// libuv does (the thread runs librdkafka's consume loop, a shallow stack).
SHIM_LOCAL int __wrap_uv_thread_create(uv_thread_t* tid, uv_thread_cb entry, void* arg) {
  auto* start = static_cast<ShimThreadStart*>(std::malloc(sizeof(ShimThreadStart)));
  if (start == nullptr) return UV_ENOMEM;
  *start = {entry, arg};
  int err = pthread_create(tid, nullptr, ShimThreadMain, start);
  if (err) std::free(start);
  return -err;
}

SHIM_LOCAL int __wrap_uv_thread_join(uv_thread_t* tid) { return -pthread_join(*tid, nullptr); }

}  // extern "C"
