/**
 * What the start-up log says about the memory limit the worker runs under, decided apart from the
 * logging: the batch size lowered to fit it, or a limit below what the worker needs at any batch.
 */
import { BASE_MEMORY_MB, DEFAULT_BATCH_SIZE, memoryForBatchMb } from "../config/schema.ts";
import type { FerryConfig } from "../config/load.ts";

/** Under this the worker was killed at saturation even with small batches (bench/README.md, "Under a memory limit"). */
const SMALLEST_WORKING_LIMIT_MB = 128;

export interface LimitWarning {
  msg: "memory:limit-too-small" | "memory:batch-size-lowered";
  fields: Record<string, unknown>;
}

/** `batchSize` and `batchSizeSource`: each handler's (handler-batch.ts), for the `handlers` the worker runs. */
type MemoryConfig = Pick<FerryConfig, "memoryLimitMb" | "batchSize" | "batchSizeSource" | "partitionConcurrency"> & { handlers?: number };

export function memoryLimitWarnings({ memoryLimitMb, batchSize, batchSizeSource, partitionConcurrency, handlers = 1 }: MemoryConfig): LimitWarning[] {
  if (memoryLimitMb === undefined) return [];
  const warnings: LimitWarning[] = [];
  const fullSpeedMb = memoryForBatchMb(DEFAULT_BATCH_SIZE, partitionConcurrency * Math.max(1, handlers));
  const sharedBy = handlers > 1 ? ` for each of ${handlers} handlers` : "";
  if (memoryLimitMb < SMALLEST_WORKING_LIMIT_MB)
    warnings.push({
      msg: "memory:limit-too-small",
      fields: {
        limitMb: memoryLimitMb,
        hint: `the worker needs about ${BASE_MEMORY_MB} MB whatever its batch size and was killed under load below ${SMALLEST_WORKING_LIMIT_MB} MB; give it a memory limit of ${SMALLEST_WORKING_LIMIT_MB} MB or more (${fullSpeedMb} MB for full speed)`,
      },
    });
  if (batchSizeSource === "memory-limit")
    warnings.push({
      msg: "memory:batch-size-lowered",
      fields: {
        limitMb: memoryLimitMb,
        batchSize,
        partitionConcurrency,
        handlers,
        hint: `${DEFAULT_BATCH_SIZE}-event batches${sharedBy} would not fit a ${memoryLimitMb} MB memory limit at partition concurrency ${partitionConcurrency}: batches of ${batchSize} run slower instead of the worker being killed; for full speed give it ${fullSpeedMb} MB or more, or set FERRY_BATCH_SIZE to choose`,
      },
    });
  return warnings;
}
