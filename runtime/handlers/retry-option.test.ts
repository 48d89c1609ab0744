import { expect, test } from "bun:test";
import { parseRetryOption, type RetryPlan } from "./retry-option.ts";

test.each<[string, unknown, RetryPlan]>([
  ["absent: the default in-place policy", undefined, { attempts: 5, backoffMs: 200, maxBackoffMs: 30_000 }],
  ["in place, partly given", { attempts: 2, backoffMs: 10 }, { attempts: 2, backoffMs: 10, maxBackoffMs: 30_000 }],
  ["in place, named", { mode: "in-place", attempts: 1 }, { attempts: 1, backoffMs: 200, maxBackoffMs: 30_000 }],
  ["retry topics", { mode: "topics", delays: ["5s", "1m", 250] }, { mode: "topics", delaysMs: [5_000, 60_000, 250] }],
])("%s", (_name, raw, retry) => {
  expect(parseRetryOption(raw)).toEqual({ retry });
});

test.each([
  ["a bad duration", { mode: "topics", delays: ["5s", "5 minutes"] }, ['`retry.delays[1]`: "5 minutes" is not a delay: write a number and a unit']],
  ["no delays", { mode: "topics", delays: [] }, ["`retry.delays` must list at least one delay"]],
  ["delays missing", { mode: "topics" }, ["`retry.delays` is missing"]],
  ["too many delays", { mode: "topics", delays: Array(11).fill("1s") }, ["at most 10 delays"]],
  ["in-place options with topics", { mode: "topics", delays: ["1s"], attempts: 3 }, ["`retry.attempts` is not an option of retry topics"]],
  [
    "delays without the mode",
    { delays: ["1s"] },
    ['`retry.delays` is not an option of retrying in place (attempts, backoffMs, maxBackoffMs); for retry topics write { mode: "topics"'],
  ],
  ["an unknown mode", { mode: "kafka", delays: ["1s"] }, ['`retry.mode` must be "in-place" (the default) or "topics", got "kafka"']],
  ["attempts below 1", { attempts: 0 }, ["`retry.attempts` must be at least 1"]],
  ["not an object", "5s", ["`retry` must be an object"]],
])("refuses %s, saying what to write", (_name, raw, problems) => {
  const parsed = parseRetryOption(raw);
  if (!("problems" in parsed)) throw new Error(`accepted: ${JSON.stringify(parsed)}`);
  expect(parsed.problems).toHaveLength(problems.length);
  for (const [i, p] of parsed.problems.entries()) expect(p).toContain(problems[i]!);
});
