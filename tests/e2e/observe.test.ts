import { expect, test } from "bun:test";
import { numberedEvents } from "../support/events.ts";
import { runFerry } from "../support/ferry-process.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();

/** The metric's series as label sets → value, from /metrics text. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(name.length, at), Number(line.slice(at + 1)));
  }
  return out;
}

test("two replicas: each exports lag for its own partitions only, logs handler:progress, and says what it is built from", async () => {
  const s = await suite.scenario("observe", { partitions: 4 });
  const env = { FERRY_PROGRESS_INTERVAL_MS: "1000" };
  const a = s.start(env);
  const b = s.start(env);
  await suite.kafka().send(numberedEvents(s.topic, 200));
  await s.waitForCommitted(200);
  // Both own partitions once the group has settled (cooperative-sticky spreads 4 over 2).
  const ports = await Promise.all([a, b].map(async (p) => (await p.waitForLog("http:listening")).port as number));
  const scrape = async () => Promise.all(ports.map(async (port) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()));
  const texts = await waitFor(
    "each replica reporting the lag of 2 partitions",
    async () => {
      const t = await scrape();
      return t.every((x) => series(x, "ferry_consumer_lag").size === 2) ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  const [own, theirs] = texts.map((t) => [...series(t, "ferry_consumer_lag").keys()]);
  expect(new Set([...own!, ...theirs!]).size).toBe(4);
  for (const t of texts) for (const value of series(t, "ferry_consumer_lag").values()) expect(value).toBe(0);

  // Process metrics and what the binary is, as a scrape of the compiled worker shows them.
  const [text] = texts;
  for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_heap_size_used_bytes"]) {
    expect([...series(text!, name).values()][0]).toBeGreaterThan(0);
  }
  expect(series(text!, "nodejs_eventloop_lag_p99_seconds").size).toBe(1);
  const [labels, one] = [...series(text!, "ferry_build_info")][0] ?? [];
  expect(one).toBe(1);
  const commit = /commit="([^"]+)"/.exec(labels!)?.[1];
  expect(commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  expect(labels).toMatch(/^\{version="0\.1\.0",commit="[^"]+",bun="\d+\.\d+\.\d+",librdkafka="\d+\.\d+\.\d+"\}$/);
  expect((await runFerry(["--version"])).output).toContain(`(commit ${commit}, bun `);

  // handler:progress at info level: together the replicas' lines account for every event once.
  const applied = () => [...a.logs, ...b.logs].filter((l) => l.msg === "handler:progress").reduce((n, l) => n + (l.applied as number), 0);
  await waitFor("progress lines adding up to 200 applied", () => applied() === 200, { timeoutMs: 30_000, intervalMs: 200 });
  const line = [...a.logs, ...b.logs].find((l) => l.msg === "handler:progress" && (l.applied as number) > 0)!;
  expect(line).toMatchObject({ level: "info", handler: "record-effect", skipped: 0, deadLettered: 0, retries: 0, waits: 0 });
  expect(typeof line.lag).toBe("number");
  expect(typeof line.sinceMs).toBe("number");
  for (const p of [a, b]) p.proc.kill("SIGTERM");
  expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
});
