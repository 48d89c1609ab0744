import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import * as v from "valibot";

/** The JSON body checked against `schema`; an empty body counts as `{}`. A bad one is a 400 that says why. */
export async function parseBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const text = await c.req.text();
  let json: unknown;
  try {
    json = text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    throw badRequest(["the body is not valid JSON"]);
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) throw badRequest(parsed.issues.map((i) => `${i.path?.map((p) => String(p.key)).join(".") || "body"}: ${i.message}`));
  return parsed.output;
}

const badRequest = (problems: string[]) => new HTTPException(400, { res: Response.json({ error: "the request body is invalid", problems }, { status: 400 }) });
