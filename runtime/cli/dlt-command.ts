import { loadConfig, type FerryConfig } from "../config/load.ts";
import { groupIdFor } from "../consume/handler-worker.ts";
import { prepareEncoders } from "../outbox/encode.ts";
import { createOutboxWriter } from "../outbox/writer.ts";
import { connectDatabase } from "../db/connect.ts";
import { readDeadLetters } from "../dlt/browse.ts";
import { deadLetterTopic, type DeadLetter } from "../dlt/dead-letter.ts";
import { replayDeadLetters, type ReplayResult } from "../dlt/replay.ts";
import { loadHandlers } from "../handlers/load.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { explainConnectionFailure } from "../health/at-start.ts";
import { createConfluentKafka } from "../kafka/confluent.ts";
import { createLogger } from "../log/logger.ts";
import { connectAvroRegistry, prepareHandlerAvro } from "../registry/handler-avro.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { UsageError } from "./usage-error.ts";
import { dltUsage } from "./usage.ts";

const dltFlags: FlagMap = {
  handlers: { env: "FERRY_HANDLERS_DIR" },
  brokers: { env: "FERRY_KAFKA_BROKERS" },
  "database-url": { env: "FERRY_DATABASE_URL" },
  "log-level": { env: "FERRY_LOG_LEVEL" },
  handler: { env: "FERRY_DLT_HANDLER" },
  "event-id": { env: "FERRY_DLT_EVENT_IDS" },
  all: { env: "FERRY_DLT_ALL", value: "true" },
  "dry-run": { env: "FERRY_DLT_DRY_RUN", value: "true" },
  json: { env: "FERRY_DLT_JSON", value: "true" },
};

const replayed = new Set(["applied", "would-apply", "already-applied"]);

/** `ferry dlt list|replay`: browse a handler's dead letters and put selected ones back through it. */
export async function dltCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(dltUsage);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "list" && sub !== "replay") throw new UsageError(`unknown dlt command '${sub}'; use 'list' or 'replay'`, "dlt");
  const { settings, help } = parseFlags(`dlt ${sub}`, rest, dltFlags, env);
  if (help) {
    console.log(dltUsage);
    return 0;
  }
  const json = settings.FERRY_DLT_JSON === "true";
  const eventIds = settings.FERRY_DLT_EVENT_IDS?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (sub === "replay" && !eventIds?.length && settings.FERRY_DLT_ALL !== "true") {
    throw new UsageError("say which dead letters to replay: --event-id <id,...> or --all", "dlt replay");
  }
  const config = loadConfig(settings);
  try {
    return await listOrReplay(sub, settings, config, { json, eventIds });
  } catch (e) {
    throw explainConnectionFailure(e, config);
  }
}

async function listOrReplay(
  sub: "list" | "replay",
  settings: Record<string, string | undefined>,
  config: FerryConfig,
  { json, eventIds }: { json: boolean; eventIds: string[] | undefined },
): Promise<number> {
  const log = createLogger({ level: json ? "warn" : config.logLevel });
  const handler = pickHandler(await loadHandlers(config.handlersDir), settings.FERRY_DLT_HANDLER);
  const kafka = createConfluentKafka(config.kafka, log);

  let letters: DeadLetter[] = [];
  for (const topic of handler.topics) {
    letters.push(...(await readDeadLetters(kafka, deadLetterTopic(topic, config.deadLetterSuffix))));
  }
  letters = letters.filter((l) => l.handler === handler.name && (!eventIds?.length || (l.eventId !== null && eventIds.includes(l.eventId))));
  if (sub === "list") {
    if (json)
      console.log(
        JSON.stringify(
          letters.map(({ original, ...rest }) => ({ ...rest, value: original.value?.toString() ?? null })),
          null,
          2,
        ),
      );
    else printLetters(letters);
    return 0;
  }
  if (eventIds?.length) {
    const found = new Set(letters.map((l) => l.eventId));
    const missing = eventIds.filter((id) => !found.has(id));
    if (missing.length) throw new UsageError(`no dead letter of handler ${handler.name} has event id ${missing.join(", ")}`, "dlt replay");
  }
  const dryRun = settings.FERRY_DLT_DRY_RUN === "true";
  const avro = (await prepareHandlerAvro([handler], config.schemas, log)).decoding.get(handler.name);
  const sql = connectDatabase(config.database, { poolSize: 2 });
  try {
    let done = 0;
    // What the replayed calls publish is sent by the running workers' relays (woken by NOTIFY).
    const encoders = new Map([[handler.name, await prepareEncoders(handler, connectAvroRegistry(config.schemas)?.client, config.schemas.strategy)]]);
    const results = await replayDeadLetters(letters, {
      sql,
      handler,
      groupId: groupIdFor(config.groupPrefix, handler.name),
      outbox: createOutboxWriter({ eventIdHeader: config.eventIdHeader, encoders, wake: () => undefined }),
      settings: config,
      log,
      dryRun,
      ...(avro ? { avro } : {}),
      onResult: (r) => {
        done += 1;
        if (!json) console.log(`[${done}/${letters.length}] ${r.eventId ?? "(no event id)"}  ${r.outcome}${r.detail ? `  ${r.detail}` : ""}`);
      },
    });
    if (json) console.log(JSON.stringify({ dryRun, results }, null, 2));
    else console.log(summary(results, dryRun));
    return results.every((r) => replayed.has(r.outcome)) ? 0 : 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function pickHandler(handlers: LoadedHandler[], name: string | undefined): LoadedHandler {
  if (name) {
    const handler = handlers.find((h) => h.name === name);
    if (!handler) throw new UsageError(`no handler named '${name}'; handlers: ${handlers.map((h) => h.name).join(", ") || "none"}`, "dlt");
    return handler;
  }
  if (handlers.length === 1) return handlers[0]!;
  throw new UsageError(`several handlers: pick one with --handler <${handlers.map((h) => h.name).join("|")}>`, "dlt");
}

function printLetters(letters: DeadLetter[]) {
  if (letters.length === 0) return console.log("no dead letters");
  for (const l of letters) {
    const where = `${l.original.topic}/${l.original.partition}@${l.original.offset}`;
    const why = l.heldBy ? `held by ${l.heldBy}` : [l.errorClass, l.errorMessage].filter(Boolean).join(": ");
    console.log(`${l.eventId ?? "(no event id)"}  ${l.reason}  ${where}${why ? `  ${why}` : ""}`);
  }
  console.log(`${letters.length} dead letter(s)`);
}

function summary(results: ReplayResult[], dryRun: boolean): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  return `${dryRun ? "dry run (rolled back): " : ""}${[...counts].map(([k, n]) => `${n} ${k}`).join(", ") || "nothing to replay"}`;
}
