/**
 * Who may wait inside librdkafka's `consume`. The addon's calls (`consume`, `connect`, `commitCb`,
 * `committed`, `disconnect`, the admin requests) each hold one of Bun's worker threads while
 * librdkafka works, and Bun has one per core for the whole process (bun-compat/README.md); Bun's
 * own async file reads run there too. A consumer waiting in `consume` for its first record
 * (FETCH_WAIT_MS) held one each: with more handlers than cores the fetch loops took every thread
 * in turn, so every other call queued behind them. Measured on 2 cores with 30 handlers: each
 * handler's `connect` waited longer than the last (the 24th 5.8 s, start-up 67 s), the Kafka
 * health check got no thread within its 1 s (`dependency:unavailable` while Kafka was fine, so
 * /readyz failed), and the handlers-directory watch took 45 s to start.
 *
 * So at most `limit` consumers (one by default: a lone handler fetches exactly as before) wait in
 * `consume`; the others take what librdkafka has queued at once (timeout 0, the thread is back
 * within microseconds) and, when that is nothing, wait in JavaScript instead, backing off from
 * `firstPollMs` to the full wait while they stay idle, so idle handlers cost what they did.
 */
export interface FetchWaits {
  /** True: this fetch may wait in `consume`; call `release()` when it returns. */
  tryBlock(): boolean;
  release(): void;
  /** How long an idle consumer that did not wait in `consume` sleeps before its next poll (the nth idle poll in a row, from 1). */
  idleSleepMs(idlePolls: number): number;
}

export function createFetchWaits({ limit = 1, firstPollMs = 5, maxWaitMs }: { limit?: number; firstPollMs?: number; maxWaitMs: number }): FetchWaits {
  let waiting = 0;
  return {
    tryBlock() {
      if (waiting >= limit) return false;
      waiting++;
      return true;
    },
    release() {
      waiting = Math.max(0, waiting - 1);
    },
    idleSleepMs: (idlePolls) => Math.min(maxWaitMs, firstPollMs * 2 ** Math.max(0, Math.min(idlePolls - 1, 20))),
  };
}
