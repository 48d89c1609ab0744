/** Time bounds for checks that talk to the network: an answer within the bound, whatever the network does. */

/** The error of a check that did not answer in time. */
export class NoAnswerError extends Error {
  override name = "NoAnswerError";
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** `work`, or a NoAnswerError after `ms`. The work goes on (nothing cancels it); its late rejection is swallowed. */
export async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  work.catch(() => undefined);
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new NoAnswerError(ms)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * At most one `run` in flight: callers that come while it runs share its result. A probe that
 * hangs (a partitioned network) is then one hung request, not one more per caller.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  return () => {
    current ??= run().finally(() => {
      current = undefined;
    });
    return current;
  };
}

/** Sleeps `ms`, or less when `signal` aborts (then it resolves at once, the caller checks the signal). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** One line of an error for a message or a log field: causes and server details on one line. */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s*\n\s*/g, "; ").trim() || (e instanceof Error ? e.name : "unknown error");
}
