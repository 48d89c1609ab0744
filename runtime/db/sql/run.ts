import { translateDatabaseError } from "../errors.ts";

/**
 * Runs one of Ferry's statements: a failure leaves as a DatabaseError with its category, so no
 * caller reads SQLSTATEs. `.execute()`d queries are already on the wire (pipelined); this only
 * attaches the translation.
 */
export function run<T>(query: PromiseLike<T>): Promise<T> {
  return Promise.resolve(query).catch((e: unknown) => {
    throw translateDatabaseError(e);
  });
}
