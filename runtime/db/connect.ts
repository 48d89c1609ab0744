import postgres, { type Sql } from "postgres";

/** One postgres.js pool for the process. Notices are dropped: they are not errors. */
export function connectDatabase(url: string, { poolSize = 10 }: { poolSize?: number } = {}): Sql {
  return postgres(url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: "ferry" },
  });
}
