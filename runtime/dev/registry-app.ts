/**
 * The Confluent Schema Registry REST API over the in-memory store: the part Avro clients use
 * (Ferry's own client, @confluentinc/schemaregistry, Confluent's serializers). Served by
 * `ferry dev` on loopback.
 */
import { Hono, type Context } from "hono";
import { compatibilityLevels, type CompatibilityLevel } from "../avro/compatibility.ts";
import { errorCodes, RegistryRefusal, type RegistryStore } from "./registry-store.ts";

const contentType = "application/vnd.schemaregistry.v1+json";

export function createRegistryApp(store: RegistryStore): Hono {
  const app = new Hono();
  const reply = (c: Context, body: unknown, status = 200) => c.body(JSON.stringify(body), status as 200, { "content-type": contentType });
  const versionParam = (raw: string): number | "latest" => {
    if (raw === "latest" || raw === "-1") return "latest";
    if (!/^\d+$/.test(raw) || Number(raw) < 1)
      throw new RegistryRefusal(422, errorCodes.invalidVersion, `The specified version '${raw}' is not a valid version id.`);
    return Number(raw);
  };
  const schemaOf = async (c: Context): Promise<string> => {
    const body = (await c.req.json().catch(() => null)) as { schema?: unknown; schemaType?: unknown } | null;
    if (body?.schemaType !== undefined && body.schemaType !== "AVRO") {
      throw new RegistryRefusal(422, errorCodes.invalidSchema, `Only AVRO schemas are supported by ferry dev's registry, not ${String(body.schemaType)}`);
    }
    if (typeof body?.schema !== "string") throw new RegistryRefusal(422, errorCodes.invalidSchema, 'The request needs a JSON body with a "schema" string');
    return body.schema;
  };
  const levelOf = async (c: Context): Promise<CompatibilityLevel> => {
    const body = (await c.req.json().catch(() => null)) as { compatibility?: unknown } | null;
    const level = body?.compatibility;
    if (!compatibilityLevels.includes(level as CompatibilityLevel)) {
      throw new RegistryRefusal(422, errorCodes.invalidLevel, `Invalid compatibility level; one of ${compatibilityLevels.join(", ")}`);
    }
    return level as CompatibilityLevel;
  };
  const subject = (c: Context) => c.req.param("subject")!;

  app.get("/", (c) => reply(c, {}));
  app.get("/schemas/types", (c) => reply(c, ["AVRO"]));
  app.get("/subjects", (c) => reply(c, store.subjects()));
  app.get("/subjects/:subject/versions", (c) => reply(c, store.versions(subject(c))));
  app.get("/subjects/:subject/versions/:version", (c) => reply(c, store.version(subject(c), versionParam(c.req.param("version")))));
  app.get("/subjects/:subject/versions/:version/schema", (c) =>
    c.body(store.version(subject(c), versionParam(c.req.param("version"))).schema, 200, { "content-type": contentType }),
  );
  app.post("/subjects/:subject", async (c) => reply(c, store.lookup(subject(c), await schemaOf(c))));
  app.post("/subjects/:subject/versions", async (c) => reply(c, { id: store.register(subject(c), await schemaOf(c)).id }));
  app.delete("/subjects/:subject", (c) => {
    // Confluent deletes softly, then for good with ?permanent=true: here the first already forgets it.
    if (c.req.query("permanent") === "true" && !store.subjects().includes(subject(c))) return reply(c, []);
    return reply(c, store.deleteSubject(subject(c)));
  });
  app.get("/schemas/ids/:id", (c) => reply(c, { schema: store.schemaById(Number(c.req.param("id"))).schema }));
  app.get("/schemas/ids/:id/schema", (c) => c.body(store.schemaById(Number(c.req.param("id"))).schema, 200, { "content-type": contentType }));
  app.get("/schemas/ids/:id/versions", (c) => reply(c, store.schemaById(Number(c.req.param("id"))).subjects));
  app.post("/compatibility/subjects/:subject/versions/:version", async (c) => {
    const problems = store.compatibilityProblems(subject(c), await schemaOf(c), versionParam(c.req.param("version")));
    return reply(c, { is_compatible: problems.length === 0, ...(c.req.query("verbose") === "true" ? { messages: problems.map((p) => p.message) } : {}) });
  });
  app.get("/config", (c) => reply(c, { compatibilityLevel: store.level() }));
  app.put("/config", async (c) => {
    const level = await levelOf(c);
    store.setLevel(level);
    return reply(c, { compatibility: level });
  });
  app.get("/config/:subject", (c) => {
    const level = store.level(subject(c)) ?? (c.req.query("defaultToGlobal") === "true" ? store.level() : undefined);
    if (level === undefined)
      throw new RegistryRefusal(404, errorCodes.subjectLevelNotFound, `Subject '${subject(c)}' does not have subject-level compatibility configured`);
    return reply(c, { compatibilityLevel: level });
  });
  app.put("/config/:subject", async (c) => {
    const level = await levelOf(c);
    store.setLevel(level, subject(c));
    return reply(c, { compatibility: level });
  });
  app.onError((e, c) =>
    e instanceof RegistryRefusal
      ? reply(c, { error_code: e.errorCode, message: e.message }, e.status)
      : reply(c, { error_code: 50001, message: e.message }, 500),
  );
  app.notFound((c) => reply(c, { error_code: 404, message: `HTTP 404 Not Found: ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
