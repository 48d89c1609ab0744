# A tiny addon that calls every function bunshim.cc provides, so that
# shim.test.ts can compare them with V8's documented semantics under Bun.
# Built (and cached) by scripts/build-kafka-addon.sh next to the Kafka addon.
{
  'targets': [{
    'target_name': 'shim_probe',
    'sources': ['probe.cc'],
    'cflags_cc': ['-std=c++20'],
  }],
}
