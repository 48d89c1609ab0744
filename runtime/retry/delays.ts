/**
 * The delays of `retry: { mode: "topics", delays }`: "500ms", "5s", "1m", "10m", "1h", or a number
 * of milliseconds. Pure.
 */

/** A retry waits in its topic: it must be read before the topic's retention (7 days by default) drops it. */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;
/** Each stage is a topic of its own and a header entry per attempt: a few are plenty. */
export const MAX_RETRY_STAGES = 10;

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const pattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Milliseconds of a delay, or the reason it cannot be one. */
export function parseDelay(delay: unknown): { ms: number } | { problem: string } {
  let ms: number;
  if (typeof delay === "number") {
    ms = delay;
  } else if (typeof delay === "string") {
    const match = pattern.exec(delay.trim());
    if (!match) return { problem: `"${delay}" is not a delay: write a number and a unit, e.g. "500ms", "5s", "1m", "10m" or "1h"` };
    ms = Number(match[1]) * units[match[2]!]!;
  } else {
    return { problem: `a delay must be a string like "5s" or a number of milliseconds, got ${delay === null ? "null" : typeof delay}` };
  }
  // As written: JSON would show NaN and Infinity as null.
  const shown = typeof delay === "number" ? String(delay) : JSON.stringify(delay);
  if (!Number.isFinite(ms) || ms < 1) return { problem: `${shown} is not a delay: it must be at least 1 ms` };
  if (ms > MAX_RETRY_DELAY_MS) {
    return { problem: `${shown} is longer than 24h: a retry waits in its topic and must be read before the topic's retention drops it` };
  }
  return { ms: Math.round(ms) };
}

/** When a retry sent at `now` may run. */
export const dueAt = (now: number, delayMs: number) => now + delayMs;
