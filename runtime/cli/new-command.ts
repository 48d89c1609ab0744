/** `ferry new handler <name>`: scaffolds a handler, its event schema, migration and test. */
import path from "node:path";
import { loadNewConfig } from "../config/load-dev.ts";
import { scaffoldHandler } from "../scaffold/new-handler.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { UsageError } from "./usage-error.ts";
import { newUsage } from "./usage.ts";

const newFlags: FlagMap = {
  topic: { env: "FERRY_NEW_TOPIC", short: "t" },
  event: { env: "FERRY_NEW_EVENT", short: "e" },
  handlers: { env: "FERRY_HANDLERS_DIR" },
  schemas: { env: "FERRY_SCHEMAS_DIR" },
  json: { env: "FERRY_NEW_FORMAT", value: "json" },
};

export async function newCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help, positionals } = parseFlags("new", args, newFlags, env, { positionals: true });
  if (help) {
    console.log(newUsage);
    return 0;
  }
  const [kind, name, ...rest] = positionals;
  if (kind !== "handler")
    throw new UsageError(
      kind === undefined ? "say what to create: ferry new handler <name>" : `ferry new makes handlers only: ferry new handler <name> (got '${kind}')`,
      "new",
    );
  if (!name) throw new UsageError("the handler needs a name: ferry new handler <name>, e.g. invoice-totals", "new");
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`, "new");
  const config = loadNewConfig(settings);
  const result = await scaffoldHandler({ name, ...config });
  if (config.format === "json") {
    console.log(
      JSON.stringify({ handler: result.names.handler, topic: result.names.topic, event: result.names.event, created: result.created, updated: result.updated }),
    );
    return 0;
  }
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const n = result.names;
  console.log(`Handler ${n.handler}: ${n.event} events from topic ${n.topic}, business key = id, into table ${n.table}.
${result.created.map((f) => `  created  ${rel(f)}`).join("\n")}
${result.updated.map((f) => `  updated  ${rel(f)}  (${n.topic} → ${n.eventFile}.avsc)`).join("\n")}

Next:
  1. Edit the event's fields in ${rel(result.created[0]!)}, then: ferry schemas build && ferry schemas codegen
  2. Edit the handler and its migration to match.
  3. Test its cases in milliseconds: ferry test ${rel(result.created.at(-2)!)}
  4. A running ferry dev picks the handler up at once (or start one: ferry dev);
     the wiring end to end: ferry test ${rel(result.created.at(-1)!)}`);
  return 0;
}
