import { Hono } from "hono";
import * as v from "valibot";
import type { EngineControls } from "../engine-controls.ts";
import { parseBody } from "./body.ts";

const replayBody = v.object({
  eventIds: v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1, "name at least one event id")),
  // Dry run unless asked otherwise: an operator sees what would happen before anything is written.
  dryRun: v.optional(v.boolean(), true),
});

/** GET /handlers/:name/dead-letters?limit=N, POST /handlers/:name/dead-letters/replay { eventIds, dryRun }. */
export function deadLettersApi(controls: EngineControls): Hono {
  const api = new Hono();
  api.get("/:name/dead-letters", async (c) => {
    const limit = Math.min(1_000, Math.max(1, Number(c.req.query("limit") ?? 100) || 100));
    return c.json({ deadLetters: await controls.deadLetters(c.req.param("name"), { limit }) });
  });
  api.post("/:name/dead-letters/replay", async (c) => {
    const { eventIds, dryRun } = await parseBody(c, replayBody);
    const results = await controls.replay(c.req.param("name"), eventIds, dryRun);
    return c.json({ dryRun, results });
  });
  return api;
}
