import { describe, expect, test } from "bun:test";
import { memoryLimitWarnings } from "./limit-report.ts";

describe("what the start-up log says about a memory limit", () => {
  test("nothing without a limit, or when the batch was not lowered for it", () => {
    expect(memoryLimitWarnings({ batchSize: 1000, batchSizeSource: "default", partitionConcurrency: 4 })).toEqual([]);
    expect(memoryLimitWarnings({ memoryLimitMb: 512, batchSize: 1000, batchSizeSource: "default", partitionConcurrency: 4 })).toEqual([]);
    expect(memoryLimitWarnings({ memoryLimitMb: 160, batchSize: 1000, batchSizeSource: "setting", partitionConcurrency: 4 })).toEqual([]);
  });

  test("a lowered batch names the limit, the batch and the limit for full speed", () => {
    const [warning, ...rest] = memoryLimitWarnings({ memoryLimitMb: 128, batchSize: 200, batchSizeSource: "memory-limit", partitionConcurrency: 4 });
    expect(rest).toEqual([]);
    expect(warning).toMatchObject({ msg: "memory:batch-size-lowered", fields: { limitMb: 128, batchSize: 200, partitionConcurrency: 4 } });
    expect(String(warning!.fields.hint)).toContain("give it 225 MB or more, or set FERRY_BATCH_SIZE");
  });

  test("a batch lowered because several handlers share the limit names them and what full speed needs for all", () => {
    const [warning] = memoryLimitWarnings({ memoryLimitMb: 384, batchSize: 200, batchSizeSource: "memory-limit", partitionConcurrency: 4, handlers: 10 });
    expect(warning).toMatchObject({ msg: "memory:batch-size-lowered", fields: { limitMb: 384, batchSize: 200, handlers: 10 } });
    // 100 MB + 1000 × 4 × 10 / 32 per MB.
    expect(String(warning!.fields.hint)).toContain("1000-event batches for each of 10 handlers would not fit a 384 MB memory limit");
    expect(String(warning!.fields.hint)).toContain("give it 1350 MB or more");
  });

  test("a limit below what any batch needs says so", () => {
    const warnings = memoryLimitWarnings({ memoryLimitMb: 96, batchSize: 100, batchSizeSource: "memory-limit", partitionConcurrency: 4 });
    expect(warnings.map((w) => w.msg)).toEqual(["memory:limit-too-small", "memory:batch-size-lowered"]);
    expect(String(warnings[0]!.fields.hint)).toContain("memory limit of 128 MB or more");
  });
});
