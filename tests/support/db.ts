import postgres from "postgres";
import { testServices } from "./env.ts";

/** A small pool on this run's database; call `end()` in afterAll. */
export function testSql() {
  return postgres(testServices().databaseUrl, { max: 3, onnotice: () => {} });
}
