/**
 * A handler's `retry` option, checked and filled in: in place (attempts and backoff, the
 * default) or through retry topics (`mode: "topics"` with its delays).
 */
import * as v from "valibot";
import { MAX_RETRY_STAGES, parseDelay } from "../retry/delays.ts";
import type { RetryPolicy } from "./contract.ts";

/** What the failure policy reads: `mode` absent or "in-place" retries in place. */
export type RetryPlan = RetryPolicy | { mode: "topics"; delaysMs: number[] };

export const defaultRetry: RetryPolicy = { attempts: 5, backoffMs: 200, maxBackoffMs: 30_000 };

const inPlaceSchema = v.strictObject(
  {
    mode: v.optional(v.literal("in-place")),
    attempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1, "`retry.attempts` must be at least 1"), v.maxValue(100))),
    backoffMs: v.optional(v.pipe(v.number(), v.minValue(0, "`retry.backoffMs` must not be negative"))),
    maxBackoffMs: v.optional(v.pipe(v.number(), v.minValue(0, "`retry.maxBackoffMs` must not be negative"))),
  },
  (issue) =>
    issue.expected === "never"
      ? `\`retry.${String(issue.path?.at(-1)?.key)}\` is not an option of retrying in place (attempts, backoffMs, maxBackoffMs); for retry topics write { mode: "topics", delays: ["5s", "1m"] }`
      : '`retry` must be an object { attempts, backoffMs, maxBackoffMs } or { mode: "topics", delays }',
);

const topicsSchema = v.strictObject(
  {
    mode: v.literal("topics"),
    delays: v.pipe(
      v.array(v.unknown(), '`retry.delays` must be an array of delays, e.g. ["5s", "1m", "10m"]'),
      v.minLength(1, '`retry.delays` must list at least one delay, e.g. ["5s", "1m", "10m"]'),
      v.maxLength(MAX_RETRY_STAGES, `\`retry.delays\` may list at most ${MAX_RETRY_STAGES} delays (one retry topic each)`),
    ),
  },
  (issue) => {
    if (issue.expected === "never")
      return `\`retry.${String(issue.path?.at(-1)?.key)}\` is not an option of retry topics: { mode: "topics", delays } takes only its delays`;
    if (issue.path?.at(-1)?.key === "delays" && issue.input === undefined)
      return '`retry.delays` is missing: list the waits before each retry, e.g. ["5s", "1m", "10m"]';
    return '`retry` must be { mode: "topics", delays: ["5s", "1m", "10m"] }';
  },
);

/** The retry plan, or every problem with the option (each naming the entry). */
export function parseRetryOption(raw: unknown): { retry: RetryPlan } | { problems: string[] } {
  if (raw === undefined) return { retry: defaultRetry };
  const mode = typeof raw === "object" && raw !== null ? (raw as { mode?: unknown }).mode : undefined;
  if (mode !== undefined && mode !== "in-place" && mode !== "topics") {
    return { problems: [`\`retry.mode\` must be "in-place" (the default) or "topics", got ${JSON.stringify(mode)}`] };
  }
  if (mode === "topics") {
    const parsed = v.safeParse(topicsSchema, raw);
    if (!parsed.success) return { problems: parsed.issues.map((i) => i.message) };
    const problems: string[] = [];
    const delaysMs: number[] = [];
    parsed.output.delays.forEach((delay, i) => {
      const d = parseDelay(delay);
      if ("problem" in d) problems.push(`\`retry.delays[${i}]\`: ${d.problem}`);
      else delaysMs.push(d.ms);
    });
    return problems.length > 0 ? { problems } : { retry: { mode: "topics", delaysMs } };
  }
  const parsed = v.safeParse(inPlaceSchema, raw);
  if (!parsed.success) return { problems: parsed.issues.map((i) => i.message) };
  const { mode: _mode, ...given } = parsed.output;
  return { retry: { ...defaultRetry, ...Object.fromEntries(Object.entries(given).filter(([, val]) => val !== undefined)) } };
}
