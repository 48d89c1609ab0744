import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

/** examples/kubernetes/, read the way kubectl would: every document of every *.yaml file. */
export const examplesDir = path.resolve(import.meta.dir, "../../examples/kubernetes");

/** The parts of the Kubernetes API the example uses (what the tests read, not the whole schema). */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
export interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
export interface Container {
  name: string;
  image: string;
  args: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  env: EnvVar[];
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts: VolumeMount[];
}
export interface ConfigMapSource {
  name: string;
  items?: Array<{ key: string; path: string }>;
}
export interface Volume {
  name: string;
  configMap?: ConfigMapSource;
  secret?: { secretName: string; defaultMode?: number };
  projected?: { sources: Array<{ configMap?: ConfigMapSource; secret?: { name: string } }> };
  emptyDir?: { medium?: string; sizeLimit?: string };
}
export interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  containers: Container[];
  volumes: Volume[];
}
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  file: string;
  // biome-ignore lint/suspicious/noExplicitAny: the rest of a document, read by the tests that need it
  [field: string]: any;
}

/** Every document of examples/kubernetes/*.yaml; a YAML error fails with the file and line. */
export function loadManifests(dir = examplesDir): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), "utf8"), { prettyErrors: true })) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      manifests.push({ ...(doc.toJS() as Manifest), file });
    }
  }
  return manifests;
}

export function manifest(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` named ${name}` : ""} in examples/kubernetes, found ${found.length}`);
  return found[0]!;
}

/** A ConfigMap's data, by key. */
export const configMapData = (manifests: Manifest[], name: string): Record<string, string> => manifest(manifests, "ConfigMap", name).data;

/** The port number a probe names (by container port name or number). */
export function probePort(container: Container, probe: Probe): number {
  const { port } = probe.httpGet;
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`the probe names port "${port}", which container ${container.name} does not declare`);
  return named.containerPort;
}

/** Kubernetes quantities the example uses ("64Mi", "512Mi", "1Gi") in bytes. */
export function bytes(quantity: string): number {
  const m = quantity.match(/^(\d+)(Ki|Mi|Gi)?$/);
  if (!m) throw new Error(`unsupported quantity ${quantity}`);
  return Number(m[1]) * { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, "": 1 }[m[2] ?? ""]!;
}

/**
 * The files a volume of the pod shows, from the ConfigMaps of the example: a configMap volume
 * holds every key (or its `items`, at their `path`), a projected volume the union of its sources.
 */
export function volumeFiles(manifests: Manifest[], volume: Volume): Record<string, string> {
  const fromConfigMap = (source: ConfigMapSource) => {
    const data = configMapData(manifests, source.name);
    if (!source.items) return { ...data };
    return Object.fromEntries(
      source.items.map((item) => {
        if (!(item.key in data)) throw new Error(`volume ${volume.name}: ConfigMap ${source.name} has no key ${item.key}`);
        return [item.path, data[item.key]!];
      }),
    );
  };
  if (volume.configMap) return fromConfigMap(volume.configMap);
  if (volume.projected) return Object.assign({}, ...volume.projected.sources.map((s) => (s.configMap ? fromConfigMap(s.configMap) : {})));
  throw new Error(`volume ${volume.name} is not made of ConfigMaps`);
}
