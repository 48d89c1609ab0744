# Links the Bun compatibility shim (bunshim.cc, uvshim.cc) into a NAN addon target.
# Included from a generated common.gypi by scripts/build-kafka-addon.sh; paths
# here are relative to this file. See README.md for why each flag exists.
{
  'target_defaults': {
    'target_conditions': [
      ['_target_name in ("confluent-kafka-javascript", "shim_probe")', {
        'sources': ['bunshim.cc', 'uvshim.cc'],
        'ldflags': [
          # libuv functions Bun exports only as panicking stubs
          '-Wl,--wrap=uv_rwlock_init',
          '-Wl,--wrap=uv_rwlock_destroy',
          '-Wl,--wrap=uv_rwlock_rdlock',
          '-Wl,--wrap=uv_rwlock_rdunlock',
          '-Wl,--wrap=uv_rwlock_wrlock',
          '-Wl,--wrap=uv_rwlock_wrunlock',
          '-Wl,--wrap=uv_thread_create',
          '-Wl,--wrap=uv_thread_join',
          # v8::Array::Length() const, made null-safe
          '-Wl,--wrap=_ZNK2v85Array6LengthEv',
          # v8::api_internal::DisposeGlobal(unsigned long*), so a reset Global frees its object
          '-Wl,--wrap=_ZN2v812api_internal13DisposeGlobalEPm',
          # keep the statically linked OpenSSL/zstd/zlib/librdkafka symbols
          # private to the addon (bound locally, not exported)
          '-Wl,--exclude-libs,ALL',
        ],
      }],
    ],
  },
}
