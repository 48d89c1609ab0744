/**
 * Compatibility levels as the schema registry defines them, over the pure resolution check.
 * BACKWARD: the new schema reads data written with the latest version (consumers upgrade first).
 * FORWARD: the latest version reads data written with the new schema (producers upgrade first).
 * FULL: both. *_TRANSITIVE: against every earlier version, not only the latest. NONE: no check.
 */
import type { AvroType } from "./parse-schema.ts";
import { resolutionIssues, type ResolutionIssue } from "./resolution.ts";

export const compatibilityLevels = ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"] as const;
export type CompatibilityLevel = (typeof compatibilityLevels)[number];

export interface VersionedSchema {
  /** The registry's version number, or a label for a version kept in the repository. */
  version: number | string;
  type: AvroType;
}

export interface CompatibilityProblem extends ResolutionIssue {
  /** The earlier version the new schema conflicts with. */
  version: number | string;
  /** "backward": the new schema cannot read that version's data; "forward": that version cannot read the new schema's data. */
  direction: "backward" | "forward";
  message: string;
}

/** Every problem of `candidate` against `previous` (oldest first) under `level`; empty means compatible. */
export function checkCompatibility(candidate: AvroType, previous: readonly VersionedSchema[], level: CompatibilityLevel): CompatibilityProblem[] {
  if (level === "NONE" || previous.length === 0) return [];
  const against = level.endsWith("_TRANSITIVE") ? previous : previous.slice(-1);
  const backward = level.startsWith("BACKWARD") || level.startsWith("FULL");
  const forward = level.startsWith("FORWARD") || level.startsWith("FULL");
  const problems: CompatibilityProblem[] = [];
  for (const old of [...against].reverse()) {
    if (backward) {
      for (const issue of resolutionIssues(candidate, old.type)) problems.push(explain(issue, old.version, "backward"));
    }
    if (forward) {
      for (const issue of resolutionIssues(old.type, candidate)) problems.push(explain(issue, old.version, "forward"));
    }
  }
  return problems;
}

/** Says what changed and who breaks, in the words a reviewer needs: the field, the rule, the version. */
export function explain(issue: ResolutionIssue, version: number | string, direction: "backward" | "forward"): CompatibilityProblem {
  const v = typeof version === "number" ? `version ${version}` : version;
  const field = `\`${issue.path}\``;
  const backward = direction === "backward";
  const oldData = `data written with ${v} cannot be read`;
  const oldReaders = `consumers still on ${v} cannot read the new data`;
  let message: string;
  switch (issue.rule) {
    case "missing-default":
      message = backward ? `field ${field} added without a default: ${oldData}` : `field ${field} removed, but ${v} has no default for it: ${oldReaders}`;
      break;
    case "type-mismatch":
      message = backward
        ? `${field} changed from ${issue.writer} to ${issue.reader}, which cannot read ${issue.writer}: ${oldData}`
        : `${field} changed from ${issue.reader} to ${issue.writer}, which ${v} cannot read as ${issue.reader}: ${oldReaders}`;
      break;
    case "name-mismatch":
      message = backward
        ? `${field} renamed from ${issue.writer} to ${issue.reader} without an alias for the old name: ${oldData}`
        : `${field} renamed from ${issue.reader} to ${issue.writer}, and ${v} has no alias for the new name: ${oldReaders}`;
      break;
    case "enum-symbol-unknown":
      message = backward
        ? `enum ${field} no longer has symbol ${issue.writer} and has no default symbol: ${oldData}`
        : `enum ${field} gained symbol ${issue.writer}, and ${v} has no default symbol: ${oldReaders}`;
      break;
    case "fixed-size-mismatch":
      message = backward
        ? `fixed ${field} changed size from ${issue.writer} to ${issue.reader}: ${oldData}`
        : `fixed ${field} changed size from ${issue.reader} to ${issue.writer}: ${oldReaders}`;
      break;
    case "union-branch-unreadable":
      message = backward
        ? `${field} can no longer hold ${issue.writer} (now ${issue.reader}): ${oldData}`
        : `${field} can now hold ${issue.writer}, which ${v} (${issue.reader}) cannot read: ${oldReaders}`;
      break;
  }
  return { ...issue, version, direction, message };
}
