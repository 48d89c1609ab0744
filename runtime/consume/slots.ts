/**
 * A counting semaphore over the worker's database connections. Key-level concurrency starts many
 * events at once, each wanting a transaction: past the pool, they would queue inside the driver,
 * where the wait counts against each unit of work's deadline (inbox/unit-of-work.ts) and a slow
 * handler's neighbours would be abandoned as if PostgreSQL had gone. Waiting here instead costs
 * nothing and is abandoned cleanly when the partition stops.
 */
export interface Slots {
  /** Resolves true once a slot is held, false if `signal` aborted first (nothing is held then). */
  acquire(signal?: AbortSignal): Promise<boolean>;
  release(): void;
  readonly free: number;
}

export function createSlots(capacity: number): Slots {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`slots need a capacity of at least 1, not ${capacity}`);
  let free = capacity;
  const waiters: Array<(granted: boolean) => void> = [];
  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.resolve(false);
      if (free > 0 && waiters.length === 0) {
        free--;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => {
        const waiter = (granted: boolean) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(granted);
        };
        const onAbort = () => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) waiters.splice(at, 1);
          waiter(false);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    release() {
      const next = waiters.shift();
      if (next) next(true);
      else if (free < capacity) free++;
      else throw new Error("a slot was released that was not held");
    },
    get free() {
      return free;
    },
  };
}
