/**
 * Whether librdkafka raised a fatal error, asked now and then. A consumer learns of one (a static
 * member fenced by another with its group.instance.id, KIP-345) only once, as an ERR__FATAL error
 * inside `consume`, and the addon drops that error when the same call had taken records before it
 * (workers.cc, KafkaConsumerConsumeNum::Execute keeps an error only while it holds no message).
 * librdkafka meanwhile unassigns every partition without a rebalance callback and never joins again:
 * the member fetched nothing, held no partition and said nothing. Seen once in 5 CI runs and once in
 * 20 local runs of tests/e2e/rolling-restart.test.ts, waiting 60 s for `consumer:run-failed`.
 */
export interface FatalCheck {
  /** Asks again when the last ask is `intervalMs` old; the fatal error once one was answered, for good. */
  check(now: number): unknown;
}

/** `ask` throws librdkafka's answer; `isFatal` tells a fatal one from the usual answer. */
export function createFatalCheck({ intervalMs, ask, isFatal }: { intervalMs: number; ask: () => void; isFatal: (e: unknown) => boolean }): FatalCheck {
  let fatal: unknown;
  let askedAt = Number.NEGATIVE_INFINITY;
  return {
    check(now) {
      if (fatal !== undefined || now - askedAt < intervalMs) return fatal;
      askedAt = now;
      try {
        ask();
      } catch (e) {
        if (isFatal(e)) fatal = e;
      }
      return fatal;
    },
  };
}
