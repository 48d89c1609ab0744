/**
 * examples/kubernetes/ without a cluster: the manifests parse, reference only what exists, carry
 * the repository's own handlers, migrations, schemas and topology, and agree with the image (its
 * user, port and TMPDIR). tests/e2e/container.test.ts runs the image the way they describe.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { configMapData, type Container, loadManifests, manifest, type PodSpec, probePort, volumeFiles } from "./kubernetes-manifests.ts";

const repo = path.resolve(import.meta.dir, "../..");
const manifests = loadManifests();
const deployment = manifest(manifests, "Deployment");
const pod: PodSpec = deployment.spec.template.spec;
const worker: Container = pod.containers[0]!;
const job = manifest(manifests, "Job");
const jobPod: PodSpec = job.spec.template.spec;
const containerfile = readFileSync(path.join(repo, "Containerfile"), "utf8");
const runtimeStage = containerfile.slice(containerfile.lastIndexOf("\nFROM "));
const imageEnv = (name: string) => runtimeStage.match(new RegExp(`\\b${name}=(\\S+)`))?.[1];

describe("examples/kubernetes", () => {
  test("every document parses and is one of the kinds the README describes", () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      "ConfigMap/ferry-handler-migrations",
      "ConfigMap/ferry-handlers",
      "ConfigMap/ferry-schemas",
      "ConfigMap/ferry-topology",
      "Deployment/ferry-order-totals",
      "Job/ferry-topology-apply",
      "PodDisruptionBudget/ferry-order-totals",
      "Secret/ferry-order-totals",
      "Secret/ferry-topology-admin",
    ]);
  });

  test("the ConfigMaps carry the repository's handlers, migrations, schema and topology file as they are", () => {
    const expectSame = (name: string, dir: string) => {
      for (const [key, content] of Object.entries(configMapData(manifests, name))) {
        expect({ key, content }).toEqual({ key, content: readFileSync(path.join(repo, dir, key), "utf8") });
      }
    };
    expectSame("ferry-handlers", "handlers");
    expectSame("ferry-handler-migrations", "handlers/migrations");
    expectSame("ferry-schemas", "schemas");
    expectSame("ferry-topology", "topology");
    const handlers = readdirSync(path.join(repo, "handlers")).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    expect(Object.keys(configMapData(manifests, "ferry-handlers")).sort()).toEqual(handlers.sort());
  });

  test("every migration reaches /handlers/migrations (ConfigMap keys cannot hold a '/': the Deployment lists each)", () => {
    const volume = pod.volumes.find((v) => v.name === "handlers")!;
    const files = volumeFiles(manifests, volume);
    const migrations = readdirSync(path.join(repo, "handlers/migrations")).sort();
    expect(Object.keys(files).filter((f) => f.startsWith("migrations/"))).toEqual(migrations.map((m) => `migrations/${m}`));
  });

  test("the handler's reader schema, resolved from /handlers, is a file of a mounted ConfigMap", () => {
    const handler = configMapData(manifests, "ferry-handlers")["order-totals.ts"]!;
    const schema = path.posix.resolve("/handlers", handler.match(/schema: "([^"]+)"/)![1]!);
    const mount = worker.volumeMounts.find((m) => schema.startsWith(`${m.mountPath}/`))!;
    expect(mount).toBeDefined();
    const files = volumeFiles(manifests, pod.volumes.find((v) => v.name === mount.name)!);
    expect(Object.keys(files)).toContain(path.posix.relative(mount.mountPath, schema));
  });

  test("references resolve: volumes, ConfigMaps, Secret keys, the selector and the disruption budget", () => {
    for (const spec of [pod, jobPod]) {
      const names = spec.volumes.map((v) => v.name);
      for (const c of spec.containers) for (const m of c.volumeMounts) expect(names).toContain(m.name);
      for (const v of spec.volumes) if (v.configMap || v.projected) volumeFiles(manifests, v); // throws on a missing ConfigMap or key
      for (const v of spec.volumes) if (v.secret) manifest(manifests, "Secret", v.secret.secretName); // throws on a missing Secret
      for (const c of spec.containers) {
        for (const ref of c.env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []))) {
          expect(Object.keys(manifest(manifests, "Secret", ref.name).stringData)).toContain(ref.key);
        }
      }
    }
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const pdb = manifest(manifests, "PodDisruptionBudget");
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(pdb.spec.maxUnavailable).toBeLessThan(deployment.spec.replicas);
  });

  test("secrets are files of a read-only Secret volume, named by FERRY_X_FILE; none is in the environment", () => {
    for (const spec of [pod, jobPod]) {
      const c = spec.containers[0]!;
      expect(c.env.filter((e) => e.valueFrom?.secretKeyRef)).toEqual([]);
      const files = c.env.filter((e) => e.name.endsWith("_FILE"));
      expect(files.length).toBeGreaterThan(0);
      for (const e of files) {
        expect(c.env.map((x) => x.name)).not.toContain(e.name.slice(0, -"_FILE".length)); // FERRY_X and FERRY_X_FILE are exclusive
        const mount = c.volumeMounts.find((m) => e.value!.startsWith(`${m.mountPath}/`))!;
        expect(mount.readOnly).toBe(true);
        const secret = spec.volumes.find((v) => v.name === mount.name)!.secret!;
        expect(Object.keys(manifest(manifests, "Secret", secret.secretName).stringData)).toContain(path.posix.relative(mount.mountPath, e.value!));
        expect(secret.defaultMode! & 0o7).toBe(0); // not world-readable
        expect(spec.securityContext.fsGroup).toBe(spec.securityContext.runAsGroup);
      }
    }
    const names = worker.env.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["FERRY_DATABASE_URL_FILE", "FERRY_KAFKA_SASL_PASSWORD_FILE", "FERRY_ADMIN_TOKEN_FILE"]));
  });

  test("probes: startup and liveness ask /healthz, readiness /readyz, on the port the image listens on", () => {
    expect(worker.startupProbe!.httpGet.path).toBe("/healthz");
    expect(worker.livenessProbe!.httpGet.path).toBe("/healthz");
    expect(worker.readinessProbe!.httpGet.path).toBe("/readyz");
    for (const probe of [worker.startupProbe!, worker.livenessProbe!, worker.readinessProbe!]) {
      expect(probePort(worker, probe)).toBe(Number(imageEnv("FERRY_HTTP_PORT")));
    }
  });

  test("the pod runs as the image's user, read-only, with a memory tmpfs as TMPDIR and resources set", () => {
    expect(runtimeStage).toMatch(new RegExp(`^USER ${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}$`, "m"));
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    for (const spec of [pod, jobPod]) {
      const c = spec.containers[0]!;
      expect(c.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
      const tmp = c.volumeMounts.find((m) => m.mountPath === imageEnv("TMPDIR"))!;
      expect(spec.volumes.find((v) => v.name === tmp.name)!.emptyDir).toMatchObject({ medium: "Memory" });
      expect(c.resources.requests).toBeDefined();
      expect(c.resources.limits?.memory).toBeDefined();
      for (const m of c.volumeMounts) if (m.mountPath !== imageEnv("TMPDIR")) expect(m.readOnly).toBe(true);
    }
    expect(worker.volumeMounts.find((m) => m.name === "handlers")!.mountPath).toBe(imageEnv("FERRY_HANDLERS_DIR")!);
  });

  test("the grace period outlasts the drain, and the topology Job applies the worker's handlers", () => {
    const shutdownMs = Number(worker.env.find((e) => e.name === "FERRY_SHUTDOWN_TIMEOUT_MS")?.value ?? 30_000);
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownMs);
    // The startup probe outlasts Ferry's own wait for its services (FERRY_STARTUP_TIMEOUT_MS, 300 000 by default).
    const startupMs = Number(worker.env.find((e) => e.name === "FERRY_STARTUP_TIMEOUT_MS")?.value ?? 300_000);
    const probe = worker.startupProbe!;
    expect(probe.periodSeconds! * probe.failureThreshold! * 1000).toBeGreaterThan(startupMs);
    expect(worker.env.find((e) => e.name === "FERRY_CREATE_DEAD_LETTER_TOPICS")?.value).toBe("false");
    const args = jobPod.containers[0]!.args;
    expect(args.slice(0, 2)).toEqual(["topology", "apply"]);
    expect(args[args.indexOf("--handlers") + 1]).toBe("/handlers");
    expect(jobPod.volumes.find((v) => v.name === "handlers")!.configMap!.name).toBe("ferry-handlers");
    const principal = worker.env.find((e) => e.name === "FERRY_KAFKA_SASL_USERNAME")!.value;
    expect(args[args.indexOf("--service") + 1]).toBe(principal!);
  });
});
