import { TopologyFileError } from "../errors.ts";
import { loadHandlers } from "../handlers/load.ts";
import { buildDesired } from "./desired.ts";
import { withHandlers, type RunSettings } from "./handlers-implied.ts";
import { loadTopologyFiles } from "./load-file.ts";
import type { DesiredState } from "./model.ts";

export interface DesiredOptions extends RunSettings {
  files: string[];
  /** Add what the handlers of this directory need, under `service`'s principal. */
  handlersDir?: string;
  service?: string;
}

/** Files (and handlers) → the desired state, or a TopologyFileError listing every problem. */
export async function loadDesired(options: DesiredOptions): Promise<DesiredState> {
  const built = buildDesired(await loadTopologyFiles(options.files));
  if ("problems" in built) throw new TopologyFileError(built.problems);
  if (!options.handlersDir) return built.state;

  const candidates = options.service ? built.services.filter((s) => s.name === options.service) : built.services;
  if (candidates.length !== 1) {
    const names = built.services.map((s) => s.name).join(", ") || "none";
    throw new TopologyFileError([
      options.service
        ? `--service ${options.service}: no such service in the topology files (services: ${names})`
        : `--handlers needs to know which service runs the handlers: pass --service <name> (services: ${names})`,
    ]);
  }
  const merged = withHandlers(built.state, await loadHandlers(options.handlersDir), candidates[0]!, options);
  if ("problems" in merged) throw new TopologyFileError(merged.problems);
  return merged.state;
}
