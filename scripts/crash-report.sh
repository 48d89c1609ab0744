#!/usr/bin/env bash
# Says what is known of a `bun test` that died by a signal: which signal, and the native stack of
# the crashing thread from its core dump (gdb), because Bun's own crash report is not always
# printed (a fault in an addon's thread, or in the crash handler itself).
# Usage: scripts/crash-report.sh <exit status> <file older than the run>
set -uo pipefail
cd "$(dirname "$0")/.."
status=$1 since=$2
echo "test: bun test was killed by signal $((status - 128)) ($(kill -l $((status - 128)) 2>/dev/null || echo '?')); this is a crash of the runner, not a failing test"
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo '?')
mapfile -t cores < <(find . -maxdepth 3 \( -name core -o -name 'core.[0-9]*' \) -type f -newer "$since" 2>/dev/null)
if ((${#cores[@]} == 0)); then
  echo "test: no core dump found (core_pattern '$pattern', ulimit -c $(ulimit -c))"
  exit 0
fi
bun=$(command -v bun)
for core in "${cores[@]}"; do
  echo "test: core dump $core ($(du -h "$core" | cut -f1)); the crashing thread, then every thread's top frames:"
  if command -v gdb >/dev/null; then
    gdb -q -batch -nx -ex 'bt 40' -ex 'info sharedlibrary' -ex 'info threads' -ex 'thread apply all bt 6' "$bun" "$core" 2>&1 |
      grep -v '^\[New LWP' | grep -v '^warning: Section' | head -400
  else
    echo "test: gdb is not installed; the core is kept at $core"
    continue
  fi
  rm -f "$core"
done
