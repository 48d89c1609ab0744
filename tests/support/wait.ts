/** Polls `check` until it returns a truthy value or the time is up; the error names what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  { timeoutMs = 60_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await Bun.sleep(intervalMs);
  }
}

/**
 * Runs `wait`; when it fails, the error carries `explain()`'s account of where things stand: a
 * timeout alone says nothing about which partition stalled or why.
 */
export async function explainingFailure<T>(wait: () => Promise<T>, explain: () => Promise<string>): Promise<T> {
  try {
    return await wait();
  } catch (e) {
    const account = await explain().catch((d: unknown) => `(state unavailable: ${String(d)})`);
    throw new Error(`${(e as Error).message}\n${account}`);
  }
}
