/**
 * A pod of the Kubernetes example run with podman on this machine, every setting taken from the
 * manifest: its securityContext, limits and mounts as `podman run` arguments, its ConfigMap and
 * Secret volumes laid out as kubelet does, its environment with the test services' addresses.
 */
import path from "node:path";
import { testServices } from "../support/env.ts";
import { writeConfigMapVolume } from "./configmap-volume.ts";
import { bytes, type Container, type Manifest, manifest, type PodSpec, volumeFiles } from "./kubernetes-manifests.ts";

/** Free TCP port on 127.0.0.1 (the container shares the host's network). */
export function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port;
  server.stop(true);
  if (port === undefined) throw new Error("no free port");
  return port;
}

export function podAsPodman(options: { image: string; manifests: Manifest[]; id: string; registryUrl: () => string }) {
  const { image, manifests, id } = options;

  /** The test's values for the keys of the example's Secrets (secret.yaml holds placeholders). */
  const [saslUser, saslPassword] = (process.env.FERRY_TEST_KAFKA_SASL_USERS ?? "admin:admin-secret").split(",")[0]!.split(":") as [string, string];
  const secretValues = (): Record<string, string> => ({
    "database-url": testServices().databaseUrl,
    "kafka-sasl-password": saslPassword,
    "admin-token": `token-${id}-${"x".repeat(16)}`,
  });

  /**
   * A pod's container as `podman run` arguments: every setting comes from the manifest. `volumes`
   * maps the pod's ConfigMap volumes to directories laid out by writeConfigMapVolume.
   */
  function podmanRun(
    spec: PodSpec,
    container: Container,
    name: string,
    volumes: Record<string, string>,
    env: Record<string, string>,
    args = container.args,
  ): string[] {
    const run = ["run", "--rm", "--name", name, "--network", "host", "--read-only-tmpfs=false"];
    const { securityContext: podSecurity } = spec;
    run.push("--user", `${podSecurity.runAsUser}:${podSecurity.runAsGroup}`);
    if (podSecurity.fsGroup !== undefined) run.push("--group-add", String(podSecurity.fsGroup));
    if (container.securityContext.readOnlyRootFilesystem) run.push("--read-only");
    if (container.securityContext.allowPrivilegeEscalation === false) run.push("--security-opt", "no-new-privileges");
    for (const cap of container.securityContext.capabilities?.drop ?? []) run.push("--cap-drop", cap);
    if (container.resources.limits?.memory) run.push("--memory", String(bytes(container.resources.limits.memory)));
    for (const mount of container.volumeMounts) {
      const volume = spec.volumes.find((v) => v.name === mount.name)!;
      if (volume.emptyDir) {
        const size = volume.emptyDir.sizeLimit ? `,size=${bytes(volume.emptyDir.sizeLimit)}` : "";
        run.push("--tmpfs", `${mount.mountPath}:rw,mode=1777${size}`); // an emptyDir: writable, exec allowed
      } else {
        run.push("--volume", `${volumes[mount.name]}:${mount.mountPath}${mount.readOnly ? ":ro" : ""}`);
      }
    }
    for (const key of Object.keys(env)) run.push("--env", key); // values come from podman's environment: no secret on a command line
    return [...run, image, ...args];
  }

  /**
   * Lays out each ConfigMap and Secret volume of a pod under `root` as kubelet does (both are written
   * the same way: files as links into `..data`); `edit` may change a volume's files first.
   */
  function writeVolumes(spec: PodSpec, root: string, edit: (volume: string, files: Record<string, string>) => void = () => {}): Record<string, string> {
    const dirs: Record<string, string> = {};
    for (const v of spec.volumes.filter((v) => v.configMap || v.projected || v.secret)) {
      const files = v.secret
        ? Object.fromEntries(Object.keys(manifest(manifests, "Secret", v.secret.secretName).stringData).map((key) => [key, secretValues()[key]!]))
        : volumeFiles(manifests, v);
      edit(v.name, files);
      dirs[v.name] = path.join(root, v.name);
      writeConfigMapVolume(dirs[v.name]!, files, v.secret ? { mode: v.secret.defaultMode ?? 0o644, gid: spec.securityContext.fsGroup } : {});
    }
    return dirs;
  }

  /**
   * A container's environment from the manifest, with the test services' addresses and credentials.
   * Beyond those, only what one machine needs: a group prefix of this test's own, and a free HTTP
   * port (`--network host`).
   */
  function podEnv(container: Container, overrides: Record<string, string>): Record<string, string> {
    const services = testServices();
    const secrets = secretValues();
    const env: Record<string, string> = {};
    for (const e of container.env) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] = ref ? secrets[ref.key]! : e.value!;
    }
    const testServicesEnv = {
      FERRY_KAFKA_BROKERS: services.saslBrokers,
      FERRY_KAFKA_SASL_MECHANISM: process.env.FERRY_TEST_KAFKA_SASL_MECHANISM ?? "PLAIN",
      FERRY_KAFKA_SASL_USERNAME: saslUser,
      ...(env.FERRY_SCHEMA_REGISTRY_URL ? { FERRY_SCHEMA_REGISTRY_URL: options.registryUrl() } : {}),
    };
    for (const [key, value] of Object.entries({ ...testServicesEnv, ...overrides })) {
      if (!(key in env) && key !== "FERRY_GROUP_PREFIX" && key !== "FERRY_HTTP_PORT") throw new Error(`${key} is not a setting of the manifest`);
      env[key] = value;
    }
    return env;
  }

  return { secretValues, podmanRun, writeVolumes, podEnv };
}
