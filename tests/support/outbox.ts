import { afterAll, beforeAll } from "bun:test";
import { randomUUID } from "node:crypto";
import { collectMigrations, migrate } from "../../runtime/db/migrate.ts";
import type { UnsentRow } from "../../runtime/db/sql/outbox.ts";
import type { HandlerContext } from "../../runtime/handlers/contract.ts";
import { type LoadedHandler, validateHandlerModule } from "../../runtime/handlers/validate.ts";
import { applyUnit } from "../../runtime/inbox/unit-of-work.ts";
import { createLogger } from "../../runtime/log/logger.ts";
import { prepareEncoders } from "../../runtime/outbox/encode.ts";
import { createOutboxWriter } from "../../runtime/outbox/writer.ts";
import { testSql } from "./db.ts";
import { eventMeta } from "./events.ts";
import { testKafka } from "./kafka.ts";

export type TestKafka = Awaited<ReturnType<typeof testKafka>>;

/**
 * Registers the hooks of a file that tests ctx.publish or the outbox relay: a migrated database,
 * Kafka clients and a topic to publish to (`target`) for the file; at its end, the rows of its
 * handlers (named `<name>-<run>`) and its topics are deleted.
 */
export function useOutboxTests() {
  const sql = testSql();
  const log = createLogger({ level: "error" });
  const run = randomUUID().slice(0, 8);
  /** Topics of single tests, deleted with `target`. */
  const topics: string[] = [];
  let kafka: TestKafka | undefined;
  let target: string | undefined;

  beforeAll(async () => {
    await migrate(sql, await collectMigrations(undefined), log);
    kafka = await testKafka();
    target = await kafka.createTopic("outbox-target", 3, false);
  });
  afterAll(async () => {
    await sql`delete from ferry_outbox where handler like ${`%-${run}`}`;
    await kafka!.admin.deleteTopics([target!, ...topics]).catch(() => undefined);
    await kafka!.close();
    await sql.end();
  });

  const services = () => {
    if (!kafka || !target) throw new Error("useOutboxTests(): the Kafka clients and the target topic exist only inside tests");
    return { kafka, target };
  };

  /** A handler `<name>-<run>` that may publish to `target` (JSON) and to `<target>-text` (strings). */
  function handlerOf(name: string, handle: (value: { n: number; fail?: boolean }, ctx: HandlerContext) => Promise<void>): LoadedHandler {
    const { target } = services();
    const result = validateHandlerModule(`${name}-${run}`, `/h/${name}.ts`, {
      default: { topic: "orders", publishes: [{ topic: target }, { topic: `${target}-text`, format: "string" }], handle },
    });
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    return result.handler;
  }

  /** One unit of work over `events`; `wake` gets the rows it committed. */
  async function apply(
    handler: LoadedHandler,
    events: Array<{ id: string; n: number; fail?: boolean }>,
    wake: (rows: readonly UnsentRow[]) => void = () => {},
  ) {
    const encoders = new Map([[handler.name, await prepareEncoders(handler, undefined, "TopicName")]]);
    const outbox = createOutboxWriter({ eventIdHeader: "event-id", encoders, wake });
    return applyUnit(
      events.map((e) => ({ meta: eventMeta(e.id, e.n), value: { n: e.n, ...(e.fail ? { fail: true } : {}) } })),
      null,
      { sql, handler, groupId: `g.${handler.name}`, log, attempt: 1, signal: new AbortController().signal, outbox },
    );
  }

  return { sql, log, run, topics, services, handlerOf, apply };
}
