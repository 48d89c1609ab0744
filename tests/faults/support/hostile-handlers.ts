/**
 * Handlers for the hostile-input suite. Each records applied events in one effects table
 * (no unique constraint: a double apply shows as two rows); the payload's `act` makes the JSON
 * handler misbehave in one precise way.
 */

export const hostileEffectsMigration = (table: string) =>
  `create table ${table} (id bigserial primary key, event_id text not null, handler text not null, n int not null);`;

const insert = (table: string, handler: string) =>
  `await ctx.sql\`insert into ${table} (event_id, handler, n) values (\${ctx.event.id}, \${${JSON.stringify(handler)}}, \${p.n})\`;`;

/** JSON events keyed by `key`; `act` picks the misbehaviour. */
export function actingHandler(topic: string, table: string): string {
  return `import { defineHandler } from "ferry";

interface P { n: number; key: string; act?: string }

export default defineHandler<P>({
  topic: ${JSON.stringify(topic)},
  businessKey: (p) => p.key,
  retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 20 },
  timeoutMs: 600,
  async handle(p, ctx) {
    switch (p.act) {
      case "throw": throw new TypeError(\`event \${p.n} is poison\`);
      case "permanent": throw ctx.permanent(\`event \${p.n} can never apply\`);
      case "hang": await new Promise(() => {}); break;
      case "throw-string": throw "a plain string";
      case "throw-undefined": throw undefined;
      // Neither JSON.stringify nor String() can describe it.
      case "throw-unprintable": throw { toJSON() { throw new Error("no JSON"); }, toString() { throw new Error("no string"); } };
      case "reject-late": return new Promise<void>((_, reject) => setTimeout(() => reject(new Error("rejected after the time limit")), 1_500));
      case "missing-table": await ctx.sql\`insert into ferry_faults_no_such_table values (1)\`; break;
      case "slow-sql": await ctx.sql\`select pg_sleep(5)\`; break;
      // Applied normally; the rejection nobody awaits comes later and must not take the worker down.
      case "floating-rejection": void Promise.reject(new Error("a floating rejection")); break;
      case "timer-throws": setTimeout(() => { throw new Error("thrown from a timer after the handler returned"); }, 50); break;
    }
    ${insert(table, "acting")}
  },
});
`;
}

/** The business key is the Kafka record's key: a record without one cannot be deduplicated. */
export function kafkaKeyedHandler(topic: string, table: string): string {
  return `import { defineHandler } from "ferry";

interface P { n: number }

export default defineHandler<P>({
  topic: ${JSON.stringify(topic)},
  businessKey: (_p, event) => event.key as string,
  retry: { attempts: 2, backoffMs: 10, maxBackoffMs: 20 },
  async handle(p, ctx) {
    ${insert(table, "kafka-keyed")}
  },
});
`;
}

export const pingSchema = {
  type: "record",
  name: "Ping",
  namespace: "ferry.faults",
  fields: [
    { name: "n", type: "int" },
    { name: "key", type: "string" },
  ],
} as const;

/** Avro events in the registry's wire format, read with `pingSchema`. */
export function avroHandler(topic: string, table: string): string {
  return `import { defineHandler } from "ferry";

interface P { n: number; key: string }

export default defineHandler<P>({
  topic: ${JSON.stringify(topic)},
  format: "avro",
  schema: ${JSON.stringify(pingSchema)},
  businessKey: (p) => p.key,
  async handle(p, ctx) {
    ${insert(table, "avro")}
  },
});
`;
}
