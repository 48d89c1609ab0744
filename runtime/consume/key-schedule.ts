/**
 * Which events of a partition batch may start now, under key-level concurrency. Pure.
 *
 * `order: "key"`: an event starts only once every earlier event of its key is done, so one key's
 * events are applied strictly in offset order; events of different keys run side by side.
 * `order: "none"`: any event may start. Either way at most `limit` run at once, and the lowest
 * offset that may start goes first, so the completed prefix (completed-prefix.ts) keeps moving.
 */
export interface KeySchedule {
  /** The next event to start (now marked running), or undefined: the limit is reached or every startable event waits on its key. */
  take(): number | undefined;
  /** Event `index` is done: the next event of its key may start. */
  done(index: number): void;
  readonly running: number;
}

export type KeyOrder = "key" | "none";

/** `keys[i]`: event i's ordering key (null is a key too: events without one keep their order among themselves). */
export function keySchedule(keys: ReadonlyArray<string | null>, { order, limit }: { order: KeyOrder; limit: number }): KeySchedule {
  if (limit < 1) throw new RangeError(`a key schedule runs at least one event at a time, not ${limit}`);
  const ready = new MinHeap();
  // Per key, its events not started yet after the one running (order "key" only).
  const queued = new Map<string | null, number[]>();
  const keyOf = new Map<number, string | null>();
  if (order === "none") {
    for (let i = 0; i < keys.length; i++) ready.push(i);
  } else {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const waiting = queued.get(key);
      if (waiting) waiting.push(i);
      else {
        queued.set(key, []);
        ready.push(i);
      }
      keyOf.set(i, key);
    }
  }
  const started = new Uint8Array(keys.length);
  let running = 0;
  return {
    take() {
      if (running >= limit || ready.size === 0) return undefined;
      const index = ready.pop()!;
      started[index] = 1;
      running++;
      return index;
    },
    done(index) {
      if (started[index] !== 1) throw new Error(`event ${index} is done but was not running`);
      started[index] = 2;
      running--;
      if (order === "none") return;
      const waiting = queued.get(keyOf.get(index)!)!;
      const next = waiting.shift();
      if (next !== undefined) ready.push(next);
    },
    get running() {
      return running;
    },
  };
}

/** A binary min-heap of event indexes. */
class MinHeap {
  private readonly items: number[] = [];
  get size() {
    return this.items.length;
  }
  push(value: number) {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= value) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = value;
  }
  pop(): number | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= a.length) break;
      const child = left + 1 < a.length && a[left + 1]! < a[left]! ? left + 1 : left;
      if (a[child]! >= last) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = last;
    return top;
  }
}
