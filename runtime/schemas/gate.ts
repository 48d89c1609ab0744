/**
 * The consumer-side gate: can a handler's reader schema read every version producers registered
 * for the subjects of its topics? Checked at start, so an incompatibility is a start-up error
 * (or a handler held back, not ready) instead of dead letters at run time.
 */
import { explain } from "../avro/compatibility.ts";
import { parseSchemaText, type AvroType } from "../avro/parse-schema.ts";
import { resolutionIssues } from "../avro/resolution.ts";
import type { RegistryClient } from "../registry/client.ts";
import { subjectName, type SubjectStrategy } from "../registry/subject-strategy.ts";

export interface GateReport {
  /** Subjects checked, with the versions found (empty: nothing registered yet). */
  subjects: Array<{ subject: string; versions: number[] }>;
  problems: string[];
}

export async function checkReader(
  handler: { name: string; topics: string[] },
  reader: AvroType,
  client: Pick<RegistryClient, "versions" | "version">,
  strategy: SubjectStrategy,
): Promise<GateReport> {
  const report: GateReport = { subjects: [], problems: [] };
  for (const topic of handler.topics) {
    const subject = subjectName(strategy, topic, reader.name);
    const versions = await client.versions(subject);
    report.subjects.push({ subject, versions });
    for (const version of versions) {
      const registered = await client.version(subject, version);
      if (registered.schemaType.toUpperCase() !== "AVRO") {
        report.problems.push(`handler ${handler.name}: ${subject} version ${version} (id ${registered.id}) is a ${registered.schemaType} schema, not Avro`);
        continue;
      }
      const writer = parseSchemaText(registered.schema, `${subject} version ${version}`);
      for (const issue of resolutionIssues(reader, writer)) {
        const { message } = explain(issue, version, "backward");
        report.problems.push(
          `handler ${handler.name} (reader ${reader.name ?? "schema"}) cannot read ${subject} version ${version} (id ${registered.id}): ${message}`,
        );
      }
    }
  }
  return report;
}
