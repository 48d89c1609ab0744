/**
 * Test-only fault injection, for the fault suite (tests/faults/, docs/reliability.md).
 * FERRY_FAULT_INJECT=<point>@<n>[,<point>@<n>...] makes the worker SIGKILL itself the n-th time
 * one handler's worker reaches <point>. Unset (the default), no injector exists and each call site
 * is `faults?.(point)`: a production worker pays one check of `undefined`.
 */
import { writeSync } from "node:fs";

export const faultPoints = [
  /** A handler call returned: its effects are written in the open transaction, nothing committed. */
  "handler",
  /** A dead-letter produce was issued, its acknowledgement not yet received. */
  "dead-letter-sending",
  /** A dead letter was acknowledged; the transaction that moves past its event has not committed. */
  "dead-letter-acked",
  /** An event's retry-topic produce was issued, its acknowledgement not yet received. */
  "retry-sending",
  /** An event's retry record was acknowledged; the offset past the event has not committed. */
  "retry-acked",
  /** PostgreSQL committed a batch; its Kafka offset is not committed yet. */
  "db-committed",
  /** A transaction holding published events (the outbox) committed; the relay has not sent them. */
  "outbox-committed",
  /** The relay's records were acknowledged by Kafka; their outbox rows are not marked sent yet. */
  "outbox-sent",
] as const;

export type FaultPoint = (typeof faultPoints)[number];
export type FaultSpec = ReadonlyArray<{ point: FaultPoint; at: number }>;
export type FaultInjector = (point: FaultPoint) => void;

export const faultSpecPattern = new RegExp(`^(${faultPoints.join("|")})@[1-9]\\d{0,8}(,(${faultPoints.join("|")})@[1-9]\\d{0,8})*$`);

/** Parses a value that matched `faultSpecPattern`. */
export function parseFaultSpec(value: string): FaultSpec {
  return value.split(",").map((part) => {
    const [point, at] = part.split("@") as [FaultPoint, string];
    return { point, at: Number(at) };
  });
}

/**
 * Counts the hits of each armed point and kills the process at the chosen one. The line written
 * first goes straight to stderr (not through the buffered logger), so the test sees which fault fired.
 */
export function createFaultInjector(
  spec: FaultSpec,
  { kill = () => process.kill(process.pid, "SIGKILL"), say = (line: string) => writeSync(2, line) }: { kill?: () => void; say?: (line: string) => void } = {},
): FaultInjector {
  const armed = new Map(spec.map((s) => [s.point, s.at]));
  const hits = new Map<FaultPoint, number>();
  return (point) => {
    const at = armed.get(point);
    if (at === undefined) return;
    const hit = (hits.get(point) ?? 0) + 1;
    hits.set(point, hit);
    if (hit !== at) return;
    say(`${JSON.stringify({ time: new Date().toISOString(), level: "warn", msg: "fault:injected", point, hit })}\n`);
    kill();
  };
}
