/**
 * Our compatibility verdicts against the real registry's, case by case and level by level:
 * the history is registered under NONE, the subject is set to the level, then the candidate is
 * registered; a 409 is the registry's "incompatible".
 */
import { afterAll, describe, expect, test } from "bun:test";
import { compatibilityCases, expectedVerdict } from "../../runtime/avro/compatibility.cases.ts";
import { checkCompatibility, compatibilityLevels } from "../../runtime/avro/compatibility.ts";
import { parseSchema } from "../../runtime/avro/parse-schema.ts";
import { RegistryRequestError } from "../../runtime/errors.ts";
import { testRegistry } from "../support/registry.ts";

const registry = testRegistry();
afterAll(() => registry.cleanup());

async function registryVerdict(history: object[], candidate: object, level: (typeof compatibilityLevels)[number]): Promise<boolean> {
  const subject = registry.subject("matrix");
  await registry.client.setCompatibility(subject, "NONE");
  for (const schema of history) await registry.client.register(subject, JSON.stringify(schema));
  await registry.client.setCompatibility(subject, level);
  try {
    await registry.client.register(subject, JSON.stringify(candidate));
    return true;
  } catch (e) {
    if (e instanceof RegistryRequestError && e.status === 409) return false;
    throw e;
  }
}

describe("compatibility matrix: Ferry's verdict = expected = the registry's", () => {
  const rows = compatibilityCases.flatMap((c) => compatibilityLevels.map((level) => [c.name, level, c] as const));
  test.each(rows)("%s under %s", async (_name, level, c) => {
    const ours =
      checkCompatibility(
        parseSchema(c.candidate, "candidate"),
        c.history.map((s, i) => ({ version: i + 1, type: parseSchema(s, "v") })),
        level,
      ).length === 0;
    const theirs = await registryVerdict(c.history, c.candidate, level);
    expect({ ours, theirs }).toEqual({ ours: expectedVerdict(c, level), theirs: expectedVerdict(c, level) });
  });
});
