/** A backing service Ferry needs, and how to tell whether it can be reached right now. */
import { DependencyRefusedError } from "../errors.ts";

export interface Dependency {
  /** For people: "PostgreSQL", "Kafka", "the schema registry". */
  name: string;
  /** The setting that says where it is, e.g. FERRY_DATABASE_URL. */
  setting: string;
  /** host:port (never a URL: it may hold a password). */
  address: string;
  /**
   * Resolves when the service answers within `timeoutMs`. Rejects with DependencyRefusedError when
   * it answered but refused Ferry (credentials, certificates: waiting cannot help), with anything
   * else when it could not be reached (worth waiting for).
   */
  check(timeoutMs: number): Promise<void>;
}

/** A connection that cannot succeed by waiting: `what` happened (one line), `setting` is what to fix. */
export function refusal(dependency: Pick<Dependency, "name" | "address">, setting: string, what: string, cause?: unknown): DependencyRefusedError {
  return new DependencyRefusedError(setting, dependency.address, `${dependency.name} at ${dependency.address}: ${what}; check ${setting}`, { cause });
}
