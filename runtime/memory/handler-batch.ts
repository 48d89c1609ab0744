/**
 * The batch each handler's consumer uses. Every handler in a worker has its own consumer, lanes and
 * `partitionConcurrency` batches in flight, so under a memory limit the fit counts them all: ten
 * handlers with a backlog of ~4 KB records each and batches of 1000 were killed under a 384 MB
 * limit, while fitted for one handler (bench/many-handlers.ts; bench/README.md, "Many handlers
 * under a memory limit"). An operator's FERRY_BATCH_SIZE is kept as set.
 */
import type { FerryConfig } from "../config/load.ts";
import { DEFAULT_BATCH_SIZE, fittedBatchSize } from "../config/schema.ts";

export type BatchFitConfig = Pick<FerryConfig, "memoryLimitMb" | "batchSize" | "batchSizeSource" | "partitionConcurrency">;
export type BatchFit = Pick<FerryConfig, "batchSize" | "batchSizeSource">;

export function batchForHandlers(config: BatchFitConfig, handlers: number): BatchFit {
  if (config.batchSizeSource === "setting") return { batchSize: config.batchSize, batchSizeSource: "setting" };
  const batchSize = fittedBatchSize(config.memoryLimitMb, config.partitionConcurrency * Math.max(1, handlers));
  return { batchSize, batchSizeSource: batchSize === DEFAULT_BATCH_SIZE ? "default" : "memory-limit" };
}
