/**
 * The schemas handlers publish with (`publishes: [{ topic, format: "avro", schema }]`) as
 * bindings, so `ferry schemas check|register --handlers <dir>` covers them beside topics.json's.
 */
import path from "node:path";
import { canonicalText, parseSchema } from "../avro/parse-schema.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { subjectName, type SubjectStrategy } from "../registry/subject-strategy.ts";
import { type Binding, loadSchemaFile, type SchemaFile } from "./catalog.ts";

export async function publishedBindings(handlers: readonly LoadedHandler[], strategy: SubjectStrategy): Promise<Binding[]> {
  const bindings: Binding[] = [];
  for (const handler of handlers) {
    for (const p of handler.publishes) {
      if (p.format !== "avro" || p.schema === undefined) continue;
      const schema: SchemaFile =
        typeof p.schema === "string"
          ? await loadSchemaFile(path.resolve(path.dirname(handler.file), p.schema))
          : {
              name: `${handler.name} publishes ${p.topic}`,
              path: handler.file,
              text: JSON.stringify(p.schema),
              type: parseSchema(p.schema, handler.file),
            };
      bindings.push({ subject: subjectName(strategy, p.topic, schema.type.name), topic: p.topic, schema });
    }
  }
  return bindings;
}

/** `extra` added to `bindings`, leaving out any that binds the same schema to the same subject again. Pure. */
export function mergeBindings(bindings: readonly Binding[], extra: readonly Binding[]): Binding[] {
  const key = (b: Binding) => `${b.subject}\n${canonicalText(b.schema.type)}`;
  const seen = new Set(bindings.map(key));
  const merged = [...bindings];
  for (const b of extra) {
    if (seen.has(key(b))) continue;
    seen.add(key(b));
    merged.push(b);
  }
  return merged;
}
