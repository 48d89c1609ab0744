import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { startFixableWorker } from "../support/fixable.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;
let browser: Browser | undefined;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

test("the admin page in Chromium: pause a handler, see lag grow, resume, replay a dead letter and see it applied", async () => {
  const s = await suite.scenario("admin-page", { partitions: 2 });
  const { events, fix, token, worker, port, admin } = await startFixableWorker(s, sql);
  await waitFor("/readyz", async () => (await admin.get("/readyz")).status === 200);
  await suite.kafka().send(events(0, 5));
  await waitFor("5 effects", async () => (await s.count()).rows === 5);

  const page = await browser!.newPage();
  await page.goto(`http://127.0.0.1:${port}/admin`);
  // Without the token the page says so.
  await page.getByRole("status").filter({ hasText: "FERRY_ADMIN_TOKEN" }).waitFor();
  await page.fill("#token", token);
  await page.click("#auth button");
  const row = page.locator('tr[data-handler="record-effect"]');
  const state = row.locator('[data-testid="state"]');
  const lag = row.locator('[data-testid="lag"]');
  await state.filter({ hasText: /^running$/ }).waitFor();

  await row.locator('[data-testid="pause"]').click();
  await state.filter({ hasText: /^paused$/ }).waitFor();
  await suite.kafka().send(events(5, 15));
  await lag.filter({ hasText: /^10$/ }).waitFor({ timeout: 30_000 });
  expect((await s.count()).rows).toBe(5);

  await row.locator('[data-testid="resume"]').click();
  await state.filter({ hasText: /^running$/ }).waitFor();
  await lag.filter({ hasText: /^0$/ }).waitFor({ timeout: 30_000 });
  expect((await s.count()).rows).toBe(15);

  // A dead letter: shown with its reason and value; a dry run first, then the replay applies it.
  const deadId = `${s.topic}-15`;
  await suite.kafka().send(events(15, 16, { fail: "until-fixed" }));
  await waitFor("the dead letter on its topic", async () => (await admin.json(`/api/handlers/record-effect/dead-letters`)).deadLetters.length === 1);
  await fix();
  await page.selectOption("#dlt-handler", "record-effect");
  await page.click("#dlt-load");
  const letter = page.locator(`#dead-letters tr[data-event-id="${deadId}"]`);
  await letter.waitFor();
  expect(await letter.textContent()).toContain("permanent");
  expect(await letter.textContent()).toContain('"fail": "until-fixed"');
  expect(await page.isDisabled("#replay")).toBe(true);
  await letter.locator("input[type=checkbox]").check();
  await page.click("#dry-run");
  const result = page.locator('[data-testid="replay-result"]');
  await result.filter({ hasText: "would-apply" }).waitFor();
  expect((await s.count()).rows).toBe(15);
  await page.click("#replay");
  await result.filter({ hasText: "applied" }).filter({ hasNotText: "would" }).waitFor();
  expect(await s.count()).toEqual({ rows: 16, ids: 16 });
  expect((await s.effects()).some((e) => e.event_id === deadId)).toBe(true);
  await page.close();

  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});
