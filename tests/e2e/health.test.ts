import { afterAll, expect, test } from "bun:test";
import { runFerry, startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";

let ferry: FerryProcess | undefined;
afterAll(() => ferry?.proc.kill("SIGKILL"));

test("a running worker answers /healthz and /readyz, and `ferry healthcheck` agrees", async () => {
  const dir = writeHandlersDir({});
  ferry = startFerry(["run", "--handlers", dir]);
  const { port } = (await ferry.waitForLog("http:listening")) as { port: number };
  await ferry.waitForLog("engine:running");
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ ok: true, state: "running" });
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ ok: true, reasons: [] });
  const check = await runFerry(["healthcheck", "--http-port", String(port)]);
  expect(check.code).toBe(0);
  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
  const after = await runFerry(["healthcheck", "--http-port", String(port)]);
  expect(after.code).toBe(1);
  expect(after.output).toContain(`no worker answered on 127.0.0.1:${port}/healthz`);
});
