/**
 * `ferry schemas register`: each bound schema under its subject. Idempotent: a schema already
 * registered there is reported with its version and id, not registered again. `dryRun` registers
 * nothing and says what would happen, compatibility included.
 */
import { RegistryRequestError } from "../errors.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { Binding } from "./catalog.ts";
import { checkAgainstRegistry, type CheckResult } from "./check.ts";

export interface RegisterResult {
  schema: string;
  subject: string;
  status: "registered" | "unchanged" | "would-register" | "refused";
  version?: number;
  id?: number;
  /** Why it was (or would be) refused: our reading of the rule broken, and the registry's words. */
  problems?: CheckResult["problems"];
  registryMessage?: string;
}

export async function registerSchema(binding: Binding, client: RegistryClient, { dryRun = false } = {}): Promise<RegisterResult> {
  const base = { schema: binding.schema.name, subject: binding.subject };
  const existing = await client.lookup(binding.subject, binding.schema.text);
  if (existing) return { ...base, status: "unchanged", version: existing.version, id: existing.id };
  if (dryRun) {
    const check = await checkAgainstRegistry(binding, client);
    return check.status === "incompatible" ? { ...base, status: "refused", problems: check.problems } : { ...base, status: "would-register" };
  }
  try {
    const { id } = await client.register(binding.subject, binding.schema.text);
    const registered = await client.lookup(binding.subject, binding.schema.text);
    return { ...base, status: "registered", id, ...(registered ? { version: registered.version } : {}) };
  } catch (e) {
    if (!(e instanceof RegistryRequestError) || e.status !== 409) throw e;
    const check = await checkAgainstRegistry(binding, client);
    return { ...base, status: "refused", problems: check.problems, registryMessage: e.message };
  }
}
