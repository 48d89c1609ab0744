/**
 * Waiting for backing services at start. In Kubernetes pods start in any order: a worker whose
 * PostgreSQL or Kafka is not there yet waits for it (one log line per attempt, with backoff), up
 * to FERRY_STARTUP_TIMEOUT_MS. A service that answers but refuses Ferry (a wrong password, an
 * untrusted certificate) is not waited for: that fails at once.
 */
import { DependencyRefusedError, DependencyUnavailableError, throwIfStartAborted } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { oneLine, pause } from "./bounded.ts";
import type { Dependency } from "./dependency.ts";

export interface WaitOptions {
  log: Logger;
  /** The whole wait; 0 tries each service once. */
  timeoutMs: number;
  /** One check's bound (a connect that hangs on a dropped packet ends here). */
  attemptTimeoutMs?: number;
  /** A stop signal: waiting ends at once and the start-up is aborted (StartAbortedError). */
  signal?: AbortSignal;
  /** The wait before attempt n+1 (n from 1). */
  backoff?: (attempt: number) => number;
  now?: () => number;
}

/** 0.5 s, 1 s, 2 s, 4 s, 8 s, then every 10 s. */
export const startBackoff = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 10_000);

/**
 * Resolves once every dependency answered. Rejects with the first DependencyRefusedError, a
 * DependencyUnavailableError naming the setting and address when the time is up, or
 * StartAbortedError on a stop signal. All are one line: no stack trace for a missing service.
 */
export async function waitForDependencies(
  dependencies: Dependency[],
  { log, timeoutMs, attemptTimeoutMs = 10_000, signal, backoff = startBackoff, now = Date.now }: WaitOptions,
): Promise<void> {
  const started = now();
  const deadline = started + timeoutMs;
  // The first failure ends every other wait too.
  const done = new AbortController();
  const stop = signal ? AbortSignal.any([signal, done.signal]) : done.signal;

  const waitFor = async (dependency: Dependency) => {
    const { name, setting, address } = dependency;
    for (let attempt = 1; ; attempt++) {
      throwIfStartAborted(signal);
      if (done.signal.aborted) return;
      try {
        // Never less than 2 s, even at the deadline: a first connection (TLS, SCRAM) needs its time.
        await dependency.check(Math.min(attemptTimeoutMs, Math.max(2_000, deadline - now())));
        if (attempt > 1) log.info("startup:reachable", { dependency: name, setting, address, attempts: attempt, waitedMs: now() - started });
        return;
      } catch (e) {
        if (e instanceof DependencyRefusedError) throw e;
        throwIfStartAborted(signal, e);
        if (done.signal.aborted) return;
        const error = oneLine(e);
        const left = deadline - now();
        if (left <= 0) {
          throw new DependencyUnavailableError(
            setting,
            address,
            `${name} at ${address} (${setting}) could not be reached within ${seconds(timeoutMs)} (FERRY_STARTUP_TIMEOUT_MS): ${error}`,
            { cause: e },
          );
        }
        const retryInMs = Math.min(backoff(attempt), left);
        log.warn("startup:waiting", { dependency: name, setting, address, attempt, retryInMs, error });
        await pause(retryInMs, stop);
      }
    }
  };

  try {
    await Promise.all(
      dependencies.map((d) =>
        waitFor(d).catch((e: unknown) => {
          done.abort();
          throw e;
        }),
      ),
    );
  } finally {
    done.abort();
  }
  throwIfStartAborted(signal);
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
