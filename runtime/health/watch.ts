/**
 * The running worker's view of its backing services. Readiness asks it; it also checks on its own
 * every FERRY_HEALTH_CHECK_INTERVAL_MS, and sooner when the engine reports a failed batch, so an
 * outage is logged even when nobody probes and no event arrives: `dependency:unavailable` (warn)
 * when it starts, `dependency:recovered` (info, with its duration) when it ends — one line per
 * transition, never one per failed check.
 */
import type { Logger } from "../log/logger.ts";
import { oneLine, singleFlight, within } from "./bounded.ts";
import type { Dependency } from "./dependency.ts";

export interface DependencyWatch {
  /**
   * Checks every dependency now, in parallel, each bounded by the check timeout (so this answers
   * within it, whatever the network does). One reason per dependency that did not answer.
   */
  check(): Promise<string[]>;
  /** Something failed that may be an outage: check soon (at most once a second). */
  nudge(): void;
  start(): void;
  stop(): void;
}

export interface WatchOptions {
  log: Logger;
  checkTimeoutMs: number;
  intervalMs: number;
  now?: () => number;
}

const nudgeGapMs = 1_000;

export function watchDependencies(dependencies: Dependency[], { log, checkTimeoutMs, intervalMs, now = Date.now }: WatchOptions): DependencyWatch {
  const watched = dependencies.map((dependency) => ({
    dependency,
    // Callers that come while a check runs share it: a hung network is one hung check.
    run: singleFlight(() => within(dependency.check(checkTimeoutMs), checkTimeoutMs)),
    down: undefined as { since: number } | undefined,
  }));
  let timer: ReturnType<typeof setInterval> | undefined;
  let lastNudge = 0;
  let stopped = false;

  const checkOne = async (w: (typeof watched)[number]): Promise<string | undefined> => {
    const { name, setting, address } = w.dependency;
    try {
      await w.run();
    } catch (e) {
      const error = oneLine(e);
      if (!w.down && !stopped) {
        w.down = { since: now() };
        log.warn("dependency:unavailable", { dependency: name, setting, address, error });
      }
      return `${name} unreachable (${setting}, ${address}): ${error}`;
    }
    if (w.down && !stopped) {
      log.info("dependency:recovered", { dependency: name, setting, address, downForMs: now() - w.down.since });
      w.down = undefined;
    }
    return undefined;
  };

  const check = async () => (await Promise.all(watched.map(checkOne))).filter((r): r is string => r !== undefined);
  const background = () => {
    check().catch((e: unknown) => log.error("dependency:check-failed", { error: oneLine(e) }));
  };

  return {
    check,
    nudge() {
      if (stopped || now() - lastNudge < nudgeGapMs) return;
      lastNudge = now();
      background();
    },
    start() {
      timer ??= setInterval(background, intervalMs);
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
