import { describe, expect, test } from "bun:test";
import { batchForHandlers } from "./handler-batch.ts";

const limited = (memoryLimitMb: number | undefined) => ({ memoryLimitMb, batchSize: 1000, batchSizeSource: "default" as const, partitionConcurrency: 4 });

describe("the batch of each handler in a worker", () => {
  test("one handler: the fit for the worker's limit", () => {
    expect(batchForHandlers(limited(384), 1)).toEqual({ batchSize: 1000, batchSizeSource: "default" });
    expect(batchForHandlers({ ...limited(128), batchSize: 200, batchSizeSource: "memory-limit" }, 1)).toEqual({
      batchSize: 200,
      batchSizeSource: "memory-limit",
    });
  });

  test("more handlers share the limit: each gets a smaller batch, never below 100", () => {
    // (384 - 100) MB × 32 events per MB at concurrency 1, shared by 10 handlers × 4 batches in flight.
    expect(batchForHandlers(limited(384), 10)).toEqual({ batchSize: 200, batchSizeSource: "memory-limit" });
    expect(batchForHandlers(limited(384), 2)).toEqual({ batchSize: 1000, batchSizeSource: "default" });
    expect(batchForHandlers(limited(256), 3)).toEqual({ batchSize: 400, batchSizeSource: "memory-limit" });
    expect(batchForHandlers(limited(128), 30)).toEqual({ batchSize: 100, batchSizeSource: "memory-limit" });
  });

  test("without a limit, with no handler yet, or with FERRY_BATCH_SIZE set, nothing changes", () => {
    expect(batchForHandlers(limited(undefined), 30)).toEqual({ batchSize: 1000, batchSizeSource: "default" });
    expect(batchForHandlers(limited(384), 0)).toEqual({ batchSize: 1000, batchSizeSource: "default" });
    expect(batchForHandlers({ ...limited(128), batchSize: 1000, batchSizeSource: "setting" }, 10)).toEqual({ batchSize: 1000, batchSizeSource: "setting" });
  });
});
