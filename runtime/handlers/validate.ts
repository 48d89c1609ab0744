import * as v from "valibot";
import type { KeyOrder } from "../consume/key-schedule.ts";
import { retryTopicsOf, topicNameProblem } from "../retry/topics.ts";
import type { HandlerDefinition, PublishDeclaration, ValueFormat } from "./contract.ts";
import { parseRetryOption, type RetryPlan } from "./retry-option.ts";

/** A handler ready for the engine: its definition with every option filled in. */
export interface LoadedHandler {
  /** The file name without extension: the handler's identity in the inbox, groups and logs. */
  name: string;
  file: string;
  topics: string[];
  format: ValueFormat;
  /** The Avro reader schema as given: a path relative to the handler file, or the schema object. Loaded by load.ts. */
  schema?: string | Record<string, unknown>;
  /** In place (attempts, backoff) or through retry topics (`mode: "topics"`). */
  retry: RetryPlan;
  timeoutMs: number;
  /** Key-level concurrency inside a partition; absent: offset order, in batches. */
  concurrency?: { perPartition: number; order: KeyOrder };
  businessKey?: HandlerDefinition["businessKey"];
  /** The topics `ctx.publish` may write to (none when it publishes nothing), formats filled in. */
  publishes: Array<Required<Pick<PublishDeclaration, "topic" | "format">> & Pick<PublishDeclaration, "schema">>;
  /** Per event (`handle`) or set-based for a whole batch (`handleBatch`). */
  apply: { kind: "each"; handle: NonNullable<HandlerDefinition["handle"]> } | { kind: "batch"; handleBatch: NonNullable<HandlerDefinition["handleBatch"]> };
}

const topicName = v.pipe(
  v.string("a topic name must be a string"),
  v.regex(/^[A-Za-z0-9._-]{1,249}$/, "`topic` names are 1-249 characters of letters, digits, '.', '_' and '-'"),
);

const definitionSchema = v.object({
  topic: v.union(
    [topicName, v.pipe(v.array(topicName), v.minLength(1, "`topic` must list at least one topic"))],
    "`topic` must be a topic name or a non-empty array of topic names",
  ),
  businessKey: v.optional(v.function("`businessKey` must be a function (value, event) => string")),
  format: v.optional(v.picklist(["json", "string", "bytes", "avro"], '`format` must be "json", "string", "bytes" or "avro"')),
  schema: v.optional(
    v.union([v.pipe(v.string(), v.minLength(1)), v.record(v.string(), v.unknown())], "`schema` must be a path to an .avsc file or an Avro schema object"),
  ),
  // Checked by retry-option.ts: its two shapes each say what they expect.
  retry: v.optional(v.unknown()),
  concurrency: v.optional(
    v.object(
      {
        perPartition: v.pipe(
          v.number("`concurrency.perPartition` must be a whole number of events from 1 to 256"),
          v.integer("`concurrency.perPartition` must be a whole number of events from 1 to 256"),
          v.minValue(1, "`concurrency.perPartition` must be at least 1"),
          v.maxValue(256, "`concurrency.perPartition` must be at most 256 (each running event holds a database connection)"),
        ),
        order: v.optional(v.picklist(["key", "none"], '`concurrency.order` must be "key" (same key in offset order) or "none"')),
      },
      '`concurrency` must be an object { perPartition, order: "key" | "none" }',
    ),
  ),
  publishes: v.optional(
    v.array(
      v.object(
        {
          topic: topicName,
          format: v.optional(v.picklist(["json", "string", "bytes", "avro"], '`publishes[].format` must be "json", "string", "bytes" or "avro"')),
          schema: v.optional(
            v.union(
              [v.pipe(v.string(), v.minLength(1)), v.record(v.string(), v.unknown())],
              "`publishes[].schema` must be a path to an .avsc file or an Avro schema object",
            ),
          ),
        },
        "each of `publishes` must be { topic, format?, schema? }",
      ),
      "`publishes` must be an array of { topic, format?, schema? }",
    ),
  ),
  timeoutMs: v.optional(v.pipe(v.number("`timeoutMs` must be a number of milliseconds"), v.integer(), v.minValue(1, "`timeoutMs` must be at least 1"))),
  handle: v.optional(v.function("`handle` must be a function (value, ctx) => Promise<void>")),
  handleBatch: v.optional(v.function("`handleBatch` must be a function (items, ctx) => Promise<void>")),
});

/**
 * Checks a module's exports against the handler contract. Returns the handler, or every
 * problem found, each saying what was expected.
 */
export function validateHandlerModule(name: string, file: string, moduleExports: Record<string, unknown>): { handler: LoadedHandler } | { problems: string[] } {
  const candidate = moduleExports.default ?? moduleExports.handler;
  if (candidate === undefined) {
    return { problems: ["the module has no default export: export default defineHandler({ topic, handle })"] };
  }
  if (typeof candidate !== "object" || candidate === null) {
    return { problems: [`the default export must be a handler object from defineHandler(...), got ${typeof candidate}`] };
  }
  const parsed = v.safeParse(definitionSchema, candidate);
  const retry = parseRetryOption((candidate as { retry?: unknown }).retry);
  if (!parsed.success || "problems" in retry) {
    return {
      problems: [
        ...(parsed.issues ?? []).map((issue) => {
          const path = issue.path?.map((p) => String(p.key)).join(".");
          if (issue.input === undefined && path) return `\`${path}\` is missing`;
          return issue.message;
        }),
        ...("problems" in retry ? retry.problems : []),
      ],
    };
  }
  const def = candidate as HandlerDefinition;
  if (!def.handle === !def.handleBatch) {
    return {
      problems: [
        def.handle
          ? "define `handle` or `handleBatch`, not both"
          : "`handle` is missing: define handle(value, ctx) (or handleBatch(items, ctx) for set-based effects)",
      ],
    };
  }
  if (parsed.output.schema !== undefined && parsed.output.format !== "avro") {
    return { problems: ['`schema` is the Avro reader schema: set `format: "avro"` too (or remove `schema`)'] };
  }
  if (parsed.output.concurrency && def.handleBatch) {
    return { problems: ["`concurrency` runs each event alone, in its own transaction: define `handle` (not `handleBatch`), or remove `concurrency`"] };
  }
  const publishes = (parsed.output.publishes ?? []).map((p) => ({
    topic: p.topic,
    format: p.format ?? "json",
    ...(p.schema !== undefined ? { schema: p.schema } : {}),
  }));
  const publishProblems = publishes.flatMap((p, i) => [
    ...(publishes.findIndex((o) => o.topic === p.topic) !== i ? [`\`publishes\` declares topic ${p.topic} twice`] : []),
    ...(p.format === "avro" && p.schema === undefined ? [`\`publishes\` topic ${p.topic} is Avro: give its writer \`schema\` (registered beforehand)`] : []),
    ...(p.format !== "avro" && p.schema !== undefined ? [`\`publishes\` topic ${p.topic} has a \`schema\`: set \`format: "avro"\` too (or remove it)`] : []),
  ]);
  if (publishProblems.length > 0) return { problems: publishProblems };
  const topics = typeof parsed.output.topic === "string" ? [parsed.output.topic] : [...new Set(parsed.output.topic)];
  const retryTopicProblems = retryTopicsOf({ name, topics, retry: retry.retry }).flatMap((t) => {
    const problem = topicNameProblem(t.topic);
    return problem ? [`retry topic ${problem}: the handler's file name (${name}) is part of it; rename the file`] : [];
  });
  if (retryTopicProblems.length > 0) return { problems: retryTopicProblems.slice(0, 1) };
  const handler: LoadedHandler = {
    name,
    file,
    topics,
    format: parsed.output.format ?? "json",
    ...(parsed.output.schema !== undefined ? { schema: parsed.output.schema } : {}),
    retry: retry.retry,
    timeoutMs: parsed.output.timeoutMs ?? 30_000,
    ...(parsed.output.concurrency
      ? { concurrency: { perPartition: parsed.output.concurrency.perPartition, order: parsed.output.concurrency.order ?? "key" } }
      : {}),
    publishes,
    apply: def.handle ? { kind: "each", handle: def.handle.bind(def) } : { kind: "batch", handleBatch: def.handleBatch!.bind(def) },
    ...(def.businessKey ? { businessKey: def.businessKey.bind(def) } : {}),
  };
  return { handler };
}
