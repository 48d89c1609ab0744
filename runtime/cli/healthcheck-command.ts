import { loadHealthcheckConfig } from "../config/load.ts";
import { parseFlags } from "./flags.ts";
import { healthcheckUsage } from "./usage.ts";

/** `ferry healthcheck`: asks a local worker's /healthz. For container HEALTHCHECKs (no curl needed). */
export async function healthcheckCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help } = parseFlags("healthcheck", args, { "http-port": { env: "FERRY_HTTP_PORT" } }, env);
  if (help) {
    console.log(healthcheckUsage);
    return 0;
  }
  const { port } = loadHealthcheckConfig(settings);
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3_000) });
    console.log(await res.text());
    return res.ok ? 0 : 1;
  } catch (e) {
    console.error(`ferry: no worker answered on 127.0.0.1:${port}/healthz: ${(e as Error).message}`);
    return 1;
  }
}
