import { Hono } from "hono";
import * as v from "valibot";
import type { EngineControls } from "../engine-controls.ts";
import { parseBody } from "./body.ts";

const target = v.optional(
  v.object({
    topic: v.optional(v.pipe(v.string(), v.minLength(1))),
    partitions: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0)))),
  }),
  {},
);

/** GET /outbox: unsent published events and the age of the oldest. */
export function outboxApi(controls: EngineControls): Hono {
  return new Hono().get("/", async (c) => c.json(await controls.outbox()));
}

/** GET /handlers: state, partitions, lag. POST /handlers/:name/pause|resume with an optional { topic, partitions }. */
export function handlersApi(controls: EngineControls): Hono {
  const api = new Hono();
  api.get("/", async (c) => c.json({ handlers: await controls.listHandlers() }));
  for (const action of ["pause", "resume"] as const) {
    api.post(`/:name/${action}`, async (c) => {
      const body = await parseBody(c, target);
      const name = c.req.param("name");
      controls[action](name, body);
      return c.json({ handler: name, [action === "pause" ? "paused" : "resumed"]: body.topic ? body : "all topics" });
    });
  }
  return api;
}
