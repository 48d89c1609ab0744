/**
 * `ferry dev`'s schema registry: the in-memory store behind the Confluent REST API on loopback,
 * fed at start from the schemas directory the way CI would (`ferry schemas register`): each
 * topic's released versions (history/<name>/<n>.avsc) in order, then the current file.
 */
import { SchemaError } from "../errors.ts";
import type { SubjectStrategy } from "../registry/subject-strategy.ts";
import { bindSubjects, loadReleasedFiles, loadSchemaFiles, loadTopics } from "../schemas/catalog.ts";
import { createRegistryApp } from "./registry-app.ts";
import { createRegistryStore, RegistryRefusal, type RegistryStore } from "./registry-store.ts";
import { existsSync, watch } from "node:fs";

export type Seeded = Array<{ subject: string; schema: string; version: number }>;

export interface DevRegistry {
  url: string;
  /** The subjects registered from the schemas directory, with their latest version. */
  seeded: Seeded;
  stop(): Promise<void>;
}

export interface SchemaChanges {
  /** Subjects that got a new version since the last look. */
  onRegistered(registered: Seeded): void;
  /** A schema file that cannot be registered (or read): the registry keeps what it had. */
  onRefused(error: Error): void;
}

/**
 * With `changes`, the schemas directory is watched: a schema added or changed while dev runs
 * (ferry new handler, an edit plus ferry schemas build) is registered as a new version, or
 * refused when incompatible, as CI would.
 */
export async function startDevRegistry(
  { schemasDir, strategy, port = 0 }: { schemasDir: string; strategy: SubjectStrategy; port?: number },
  changes?: SchemaChanges,
): Promise<DevRegistry> {
  const store = createRegistryStore();
  const seeded = existsSync(schemasDir) ? await seed(store, schemasDir, strategy) : [];
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: createRegistryApp(store).fetch });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let known = new Map(seeded.map((s) => [s.subject, s.version]));
  const reseed = async () => {
    try {
      const now = await seed(store, schemasDir, strategy);
      const registered = now.filter((s) => known.get(s.subject) !== s.version);
      known = new Map(now.map((s) => [s.subject, s.version]));
      if (registered.length > 0) changes?.onRegistered(registered);
    } catch (e) {
      changes?.onRefused(e as Error);
    }
  };
  // Editors and generators write several files in a burst: look once it is quiet.
  const watcher =
    changes && existsSync(schemasDir)
      ? watch(schemasDir, { recursive: true }, () => {
          clearTimeout(timer);
          timer = setTimeout(() => void reseed(), 300);
        })
      : undefined;
  return {
    url: `http://127.0.0.1:${server.port}`,
    seeded,
    async stop() {
      watcher?.close();
      clearTimeout(timer);
      await server.stop(true);
    },
  };
}

async function seed(store: RegistryStore, dir: string, strategy: SubjectStrategy) {
  const { bindings } = bindSubjects(await loadSchemaFiles(dir), await loadTopics(dir), strategy);
  const seeded: DevRegistry["seeded"] = [];
  for (const binding of bindings) {
    let version = 0;
    for (const file of [...(await loadReleasedFiles(dir, binding.schema.name)), binding.schema]) {
      try {
        version = store.register(binding.subject, file.text).version;
      } catch (e) {
        if (!(e instanceof RegistryRefusal)) throw e;
        throw new SchemaError(
          `cannot be registered under ${binding.subject} in ferry dev's registry: ${e.message}; fix the schema (ferry schemas check --offline shows the same problem)`,
          { file: file.path },
        );
      }
    }
    seeded.push({ subject: binding.subject, schema: binding.schema.name, version });
  }
  return seeded;
}
