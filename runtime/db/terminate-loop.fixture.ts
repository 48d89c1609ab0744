/**
 * A child process for connect.test.ts: four lanes of small transactions while another session
 * terminates their connections every 150 ms, under the worker's process guard. Prints one JSON
 * line: the slowest transaction, what the guard logged, and whether anything else than a connection failure reached it.
 * (In a child: bun test reports the driver's stray rejections itself, whatever handlers a process has.)
 */
import postgres from "postgres";
import { createLogger } from "../log/logger.ts";
import { guardProcess } from "../process-guard.ts";

const url = process.argv[2]!;
const lines: Array<Record<string, unknown>> = [];
guardProcess(createLogger({ level: "warn", sink: (line) => lines.push(JSON.parse(line)) }));
const killer = postgres(url, { max: 1, onnotice: () => {} });
const name = `ferry-terminate-${process.pid}`;
const pool = postgres(url, { max: 4, onnotice: () => {}, connection: { application_name: name } });
let stop = false;
let slowest = 0;
const lane = async () => {
  while (!stop) {
    const started = performance.now();
    await pool
      .begin(async (tx) => {
        await tx`select 1`;
        await tx`select pg_sleep(0.005)`;
      })
      .catch(() => undefined); // a terminated connection fails its transaction: expected
    slowest = Math.max(slowest, performance.now() - started);
  }
};
const lanes = [lane(), lane(), lane(), lane()];
for (let round = 0; round < 20; round++) {
  await Bun.sleep(150);
  await killer`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name}`;
}
stop = true;
await Promise.all(lanes);
await pool.end({ timeout: 1 });
await killer.end();
await Bun.sleep(200); // strays of the last terminations
console.log(JSON.stringify({ slowest, unguarded: lines.filter((l) => l.msg !== "process:stray-database-error"), strays: lines.length }));
