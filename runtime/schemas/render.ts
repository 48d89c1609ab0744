/** Text for people, JSON for machines: what `ferry schemas …` prints. */
import type { GeneratedFile } from "./build.ts";
import type { CheckResult } from "./check.ts";
import type { RegisterResult } from "./register.ts";
import type { SchemaFile } from "./catalog.ts";

export function renderGenerated(kind: "build" | "codegen", files: GeneratedFile[], check: boolean): string {
  if (files.length === 0) return kind === "build" ? "no .avdl files: nothing to build" : "no .avsc files: nothing to generate";
  const lines = files.map((f) => `${f.status.padEnd(9)} ${f.output}  (from ${f.source})`);
  const stale = files.filter((f) => f.status === "stale").length;
  if (check && stale > 0) lines.push(`${stale} generated file(s) are out of date: run 'ferry schemas ${kind}' and commit the result`);
  return lines.join("\n");
}

const label = (r: { schema: string; subject?: string }) => (r.subject ? `${r.subject} (${r.schema})` : r.schema);
const versions = (against: Array<number | string>) => against.map((v) => (typeof v === "number" ? `version ${v}` : v)).join(", ");

export function renderCheck(results: CheckResult[], unbound: SchemaFile[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.status === "new") lines.push(`new          ${label(r)}: no earlier version to check against`);
    else if (r.status === "unchanged") lines.push(`unchanged    ${label(r)}: same as ${versions(r.against)}`);
    else if (r.status === "compatible") lines.push(`compatible   ${label(r)}: with ${versions(r.against) || "(no check)"} under ${r.level}`);
    else {
      lines.push(`INCOMPATIBLE ${label(r)} under ${r.level}:`);
      for (const p of r.problems) lines.push(`  - ${p.message}`);
    }
  }
  for (const f of unbound) lines.push(`skipped      ${f.name}: not bound to a topic in topics.json (strategy needs one)`);
  const count = (s: CheckResult["status"]) => results.filter((r) => r.status === s).length;
  lines.push(
    `${results.length} checked: ${count("compatible")} compatible, ${count("unchanged")} unchanged, ${count("new")} new, ${count("incompatible")} incompatible`,
  );
  return lines.join("\n");
}

export function renderRegister(results: RegisterResult[], unbound: SchemaFile[], dryRun: boolean): string {
  const lines: string[] = [];
  for (const r of results) {
    const where = `${r.subject} (${r.schema})`;
    if (r.status === "unchanged") lines.push(`unchanged       ${where}: version ${r.version}, id ${r.id}`);
    else if (r.status === "registered") lines.push(`registered      ${where}: version ${r.version ?? "?"}, id ${r.id}`);
    else if (r.status === "would-register") lines.push(`would register  ${where}`);
    else {
      lines.push(`REFUSED         ${where}:`);
      for (const p of r.problems ?? []) lines.push(`  - ${p.message}`);
      if (r.registryMessage) lines.push(`  registry: ${r.registryMessage}`);
    }
  }
  for (const f of unbound) lines.push(`skipped         ${f.name}: not bound to a topic in topics.json`);
  if (dryRun) lines.push("dry run: nothing was registered");
  return lines.join("\n");
}
