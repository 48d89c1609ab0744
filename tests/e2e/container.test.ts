/**
 * The image, built from the Containerfile with podman (scripts/container.sh) and run the way
 * examples/kubernetes/deployment.yaml runs it: read from that file are the user, the read-only root,
 * the dropped capabilities, the memory limit, the TMPDIR tmpfs and its size, every volume (made
 * the way kubelet makes ConfigMap volumes: symlinks into `..data`), the environment and the probe
 * paths. What differs, because this is one machine and not a cluster: `--network host` (the test
 * services listen on 127.0.0.1), so the HTTP port is a free one instead of 8080; and the addresses
 * and credentials are those of the test services.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runFerry, startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { testRegistry } from "../support/registry.ts";
import { useScenarios } from "../support/suite.ts";
import { testServices } from "../support/env.ts";
import { waitFor } from "../support/wait.ts";
import { writeConfigMapVolume } from "./configmap-volume.ts";
import { bytes, type Container, loadManifests, manifest, type PodSpec, probePort, volumeFiles } from "./kubernetes-manifests.ts";
import { freePort, podAsPodman } from "./pod-as-podman.ts";

const repo = path.resolve(import.meta.dir, "../..");
const containerScript = path.join(repo, "scripts/container.sh");
const image = "localhost/ferry:test";
const suite = useScenarios();
const { sql } = suite;
const registry = testRegistry();
const manifests = loadManifests();
const pod: PodSpec = manifest(manifests, "Deployment").spec.template.spec;
const worker: Container = pod.containers[0]!;
const id = randomUUID().slice(0, 8);
const containers: string[] = [];

/** podman with the storage and runtime scripts/container.sh prepared. */
function podman(...args: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(["bash", containerScript, "podman", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString().trim(), err: p.stderr.toString() };
}
const inspect = <T>(what: "image" | "container", name: string, format: string): T => {
  const r = podman(what, "inspect", "--format", format, name);
  if (r.code !== 0) throw new Error(`podman ${what} inspect ${name}: ${r.err}`);
  return JSON.parse(r.out) as T;
};

/**
 * By default the image is built from the Containerfile with the root file system laid out from
 * this run's dist/ferry (the runtime stage Ferry ships; seconds). FERRY_TEST_CONTAINER_BUILD=full
 * builds the whole Containerfile, Ferry compiled in its build stage (about 20 minutes cold on 2 cores).
 */
const fullBuild = process.env.FERRY_TEST_CONTAINER_BUILD === "full";
let build: { seconds: number; size: number };
beforeAll(async () => {
  const how = fullBuild ? [] : ["--prebuilt", path.join(repo, "dist/ferry")];
  const p = Bun.spawn(["bash", containerScript, "build", "--tag", image, ...how], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  const [, , size, seconds] = out.trim().split(" ");
  build = { size: Number(size), seconds: Number(seconds) };
  console.log(`container: image ${image} ${(build.size / 1e6).toFixed(0)} MB, built in ${build.seconds} s (warm when .cache/container has the layers)`);
}, 45 * 60_000);

afterAll(async () => {
  for (const name of containers) podman("rm", "--force", "--time", "0", name);
  await registry.cleanup();
});

describe("the image", () => {
  test("is the binary on a root file system of its own: non-root, no shell, a health check, no build-time CA", () => {
    const config = inspect<{ User: string; Env: string[] }>("image", image, "{{json .Config}}");
    expect(config.User).toBe("10001:10001");
    // Kept because the image is built with --format docker (the OCI format has no HEALTHCHECK).
    expect(inspect<{ Test: string[] } | null>("image", image, "{{json .Config.Healthcheck}}")?.Test).toEqual(["CMD", "ferry", "healthcheck"]);
    expect(config.Env.some((e) => e.startsWith("NODE_EXTRA_CA_CERTS"))).toBe(false);

    const mounted = podman("image", "mount", image);
    expect(mounted.code).toBe(0);
    const root = mounted.out;
    try {
      const files = readdirSync(root, { recursive: true })
        .map(String)
        .filter((f) => statSync(path.join(root, f), { throwIfNoEntry: false })?.isFile());
      const binary = statSync(path.join(root, "usr/local/bin/ferry")).size;
      console.log(`container: ${files.length} files, ${(binary / 1e6).toFixed(0)} MB of them the binary; image ${(build.size / 1e6).toFixed(0)} MB`);
      expect(files).not.toContain("bin/sh");
      expect(files).not.toContain("usr/bin/sh");
      expect(build.size - binary).toBeLessThan(15e6); // glibc, libstdc++, CA bundle: a few MB
      // The extra CA given to the build (this machine's TLS-intercepting proxy) is in no file of the
      // image: each certificate the build's bundle has beyond the image's own bundle is looked for.
      const extraCa = process.env.FERRY_CONTAINER_EXTRA_CA ?? process.env.NODE_EXTRA_CA_CERTS;
      if (extraCa) {
        const certs = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
        const own = new Set(certs(readFileSync(path.join(root, "etc/ssl/certs/ca-certificates.crt"), "utf8")));
        const extra = certs(readFileSync(extraCa, "utf8")).filter((c) => !own.has(c));
        console.log(`container: ${extra.length} certificate(s) of the build's extra CA bundle are not Debian's; looking for them in the image`);
        const needles = extra.map((c) => Buffer.from(c.split("\n")[1]!)); // the first base64 line of each
        for (const f of files) {
          const content = readFileSync(path.join(root, f));
          for (const needle of needles) expect({ file: f, found: content.includes(needle) }).toEqual({ file: f, found: false });
        }
      }
    } finally {
      podman("image", "unmount", image);
    }
  });

  test.skipIf(!fullBuild)("got only what .containerignore lets through as build context: no tests, .services, host .cache or node_modules", () => {
    // The build stage's last layer (scripts/container.sh names it): what was copied into /src, and what the build made.
    const show =
      "cd /src && ls -A && echo --- && ls -A .cache && echo --- && ls -A scripts && echo --- && find . -name '*.test.ts' -not -path './node_modules/*'";
    const ls = podman("run", "--rm", "--network", "none", "localhost/ferry-build-stage:cache", "sh", "-c", show);
    expect(ls.code).toBe(0);
    const [top, cache, scripts, tests] = `${ls.out}\n`.split("---\n").map((part) => part.split("\n").filter(Boolean).sort());
    // node_modules and .cache/tools (Bun) are the build's own: the host's were not sent.
    expect(top).toEqual([".cache", "bun.lock", "bunfig.toml", "migrations", "node_modules", "package.json", "patches", "runtime", "scripts", "tsconfig.json"]);
    expect(cache!.filter((e) => e !== "kafka-build.log")).toEqual(["tools"]);
    expect(scripts).toEqual(["bootstrap.sh", "build-kafka-addon.sh", "build.ts", "check-kafka-addon-symbols.sh", "container-rootfs.sh"]);
    expect(tests).toEqual([]);
  });
});

const { secretValues, podmanRun, writeVolumes, podEnv } = podAsPodman({ image, manifests, id, registryUrl: () => registry.url });

describe("the image run as the Kubernetes example runs it", () => {
  let ferry: FerryProcess;
  const name = `ferry-test-${id}`;
  let httpPort = 0;
  let ordersTopic = "";
  let streamTopic = "";
  let handlersDir = "";
  const handlerFiles: Record<string, string> = {};
  const root = mkdtempSync(path.join(tmpdir(), "ferry-container-"));
  const url = (probePath: string) => `http://127.0.0.1:${httpPort}${probePath}`;

  test("starts read-only as uid 10001 on ConfigMap volumes, serves its probes, applies the example handler's events exactly", async () => {
    const kafka = suite.kafka();
    ordersTopic = await kafka.createTopic(`ctr-orders-${id}`, 3); // and its .dlt: the manifest lets the topology Job make them
    registry.track(`${ordersTopic}-value`);

    // The volumes, made from the example's ConfigMaps; the example handler reads this test's topic.
    const volumes = writeVolumes(pod, root, (volume, files) => {
      if (volume !== "handlers") return;
      const handler = files["order-totals.ts"]!;
      expect(handler).toContain('topic: "orders"');
      files["order-totals.ts"] = handler.replace('topic: "orders"', `topic: ${JSON.stringify(ordersTopic)}`);
      Object.assign(handlerFiles, files);
    });
    handlersDir = volumes.handlers!;

    // Events first (the schema registered with them): 20 orders, 3 sent again with the same event id,
    // 2 placed again with new event ids (functional duplicates), 1 with a negative total.
    const order = (n: number, totalCents = 100 * n) => ({
      orderId: `ctr-${id}-o${n}`,
      customerId: `c${n}`,
      totalCents,
      items: [{ sku: `sku-${n}`, quantity: 1, unitPriceCents: totalCents }],
      placedAt: 1_760_000_000_000 + n,
    });
    const lines = [
      ...Array.from({ length: 20 }, (_, i) => ({ value: order(i + 1), key: `ctr-${id}-o${i + 1}`, eventId: `ctr-${id}-e${i + 1}` })),
      ...[1, 2, 3].map((n) => ({ value: order(n), key: `ctr-${id}-o${n}`, eventId: `ctr-${id}-e${n}` })),
      ...[4, 5].map((n) => ({ value: order(n), key: `ctr-${id}-o${n}`, eventId: `ctr-${id}-again-${n}` })),
      { value: order(21, -1), key: `ctr-${id}-o21`, eventId: `ctr-${id}-negative` },
    ];
    const input = path.join(root, "orders.jsonl");
    writeFileSync(input, lines.map((l) => JSON.stringify(l)).join("\n"));
    const schemaFile = path.join(root, "order-placed.avsc");
    writeFileSync(schemaFile, volumeFiles(manifests, pod.volumes.find((v) => v.name === "schemas")!)["order-placed.avsc"]!);
    const sent = await runFerry([
      "produce",
      ...["--topic", ordersTopic, "--schema", schemaFile, "--envelope", "--input", input, "--auto-register"],
      ...["--registry-url", registry.url, "--brokers", testServices().brokers],
    ]);
    expect(sent.code).toBe(0);

    httpPort = freePort();
    const env = podEnv(worker, { FERRY_GROUP_PREFIX: `ctr-${id}`, FERRY_HTTP_PORT: String(httpPort) });
    containers.push(name);
    const spawnedAt = Date.now();
    ferry = startFerry(["podman", ...podmanRun(pod, worker, name, volumes, env)], env, { binary: containerScript });

    // Readiness as the kubelet asks it: the readiness probe's path, polled until 200.
    const readiness = worker.readinessProbe!;
    const liveness = worker.livenessProbe!;
    expect(probePort(worker, readiness)).toBe(8080); // the manifest's port; under --network host: FERRY_HTTP_PORT
    await waitFor(
      `${readiness.httpGet.path} to answer 200`,
      async () => {
        if (ferry.proc.exitCode !== null) throw new Error(`the container exited with ${ferry.proc.exitCode}:\n${ferry.output().slice(-3000)}`);
        return (await fetch(url(readiness.httpGet.path)).catch(() => null))?.status === 200;
      },
      { timeoutMs: 120_000, intervalMs: 25 },
    );
    const readyAt = Date.now();
    const startedAt = Date.parse(inspect<string>("container", name, "{{json .State.StartedAt}}"));
    console.log(
      `container: process start → ${readiness.httpGet.path} 200 in ${((readyAt - startedAt) / 1000).toFixed(2)} s (podman run → 200: ${((readyAt - spawnedAt) / 1000).toFixed(2)} s)`,
    );
    expect((await fetch(url(liveness.httpGet.path))).status).toBe(200);
    // The worker restarted itself in place with its allocator settings (runtime/memory/allocator-env.ts).
    expect(ferry.logs.find((l) => l.msg === "memory:settings")).toMatchObject({ purgeDelay: "-1", engineMemoryMb: Number(env.FERRY_MEMORY_TARGET_MB ?? 150) });
    // It read the container's memory limit (podman's --memory, from the manifest's limits.memory).
    expect(ferry.logs.find((l) => l.msg === "memory:settings")).toMatchObject({
      limitMb: bytes(worker.resources.limits!.memory!) / 2 ** 20,
      batchSize: 1000,
      batchSizeSource: "default",
    });
    expect((await fetch(url(worker.startupProbe!.httpGet.path))).status).toBe(200);
    // The admin API is on behind the token the Secret volume holds (FERRY_ADMIN_TOKEN_FILE).
    expect((await fetch(url("/api/handlers"))).status).toBe(401);
    const token = { authorization: `Bearer ${secretValues()["admin-token"]}` };
    expect((await fetch(url("/api/handlers"), { headers: token })).status).toBe(200);

    // It runs as the manifest's user, and the image's HEALTHCHECK works in it.
    const pid = inspect<number>("container", name, "{{json .State.Pid}}");
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+10001\s/m);
    const health = podman("healthcheck", "run", name);
    expect({ code: health.code, out: health.out }).toEqual({ code: 0, out: "" }); // podman prints "unhealthy" otherwise

    // Exactly the effects of the 20 orders; the rest skipped or dead-lettered, as counted by the worker itself.
    const rows = async () => (await sql<{ n: number }[]>`select count(*)::int as n from order_totals where order_id like ${`ctr-${id}-%`}`)[0]!.n;
    const counted = async () => {
      const text = await (await fetch(url("/metrics"))).text();
      const value = (outcome: string) =>
        Number(text.match(new RegExp(`^ferry_events_total\\{[^}]*handler="order-totals"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, "m"))?.[1] ?? 0);
      return { applied: value("applied"), technical: value("technical-duplicate"), functional: value("functional-duplicate"), dead: value("dead-lettered") };
    };
    await waitFor("all 26 events dealt with", async () => {
      const c = await counted();
      return c.applied + c.technical + c.functional + c.dead === 26;
    });
    expect(await rows()).toBe(20);
    expect(await counted()).toEqual({ applied: 20, technical: 3, functional: 2, dead: 1 });
    expect(ferry.output()).not.toContain("EROFS");
  }, 240_000);

  test("hot-adds, swaps and removes handlers by ConfigMap updates under a continuous stream; every event applied once", async () => {
    const kafka = suite.kafka();
    streamTopic = await kafka.createTopic(`ctr-stream-${id}`, 3);
    const [alpha, beta] = [`ctr_alpha_${id}`, `ctr_beta_${id}`];
    // A new table comes with a rollout (the Deployment lists each migration); handlers for existing tables are hot-added.
    for (const t of [alpha, beta])
      await sql.unsafe(`create table ${t} (id bigserial primary key, event_id text not null, n int not null, version int not null)`);
    const handler = (table: string, version: number) => `import { defineHandler } from "ferry";
export default defineHandler<{ n: number }>({
  topic: ${JSON.stringify(streamTopic)},
  async handle(p, ctx) {
    await ctx.sql\`insert into ${table} (event_id, n, version) values (\${ctx.event.id}, \${p.n}, ${version})\`;
  },
});
`;
    const acted = (msg: string, file: string) => ferry.logs.filter((l) => l.msg === msg && l.file === `/handlers/${file}`).length;
    const count = async (t: string) =>
      (await sql<{ rows: number; ids: number }[]>`select count(*)::int as rows, count(distinct event_id)::int as ids from ${sql(t)}`)[0]!;

    let sent = 0;
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const batch = Array.from({ length: 20 }, (_, i) => sent + i).map((n) => ({
          topic: streamTopic,
          key: `k${n % 7}`,
          value: JSON.stringify({ n }),
          headers: { "event-id": `${streamTopic}-${n}` },
        }));
        await kafka.send(batch);
        sent += batch.length;
        await Bun.sleep(100);
      }
    })();
    const update = (changes: Record<string, string | null>) => {
      for (const [file, content] of Object.entries(changes)) {
        if (content === null) delete handlerFiles[file];
        else handlerFiles[file] = content;
      }
      writeConfigMapVolume(handlersDir, handlerFiles);
    };
    try {
      update({ "alpha.ts": handler(alpha, 1) });
      await waitFor("alpha added", () => acted("handler:added", "alpha.ts") === 1);
      update({ "beta.ts": handler(beta, 1) });
      await waitFor("beta added", () => acted("handler:added", "beta.ts") === 1);
      await waitFor("beta applying", async () => (await count(beta)).rows > 0);
      update({ "alpha.ts": handler(alpha, 2) });
      await waitFor("alpha replaced", () => acted("handler:replaced", "alpha.ts") === 1);
      await waitFor("alpha v2 applying", async () => (await sql`select 1 from ${sql(alpha)} where version = 2 limit 1`).length > 0);
      update({ "beta.ts": null });
      await waitFor("beta removed", () => acted("handler:removed", "beta.ts") === 1);
      await waitFor("at least 600 events streamed", () => sent >= 600);
    } finally {
      streaming = false;
      await stream;
    }
    console.log(`container: ${sent} events streamed across ConfigMap updates (add, add, change, remove)`);
    await waitFor(`alpha to apply all ${sent} events`, async () => (await count(alpha)).rows >= sent, { timeoutMs: 120_000, intervalMs: 250 });
    const betaAfterRemoval = await count(beta);
    await Bun.sleep(1_000); // a removed handler applies nothing more
    expect(await count(beta)).toEqual(betaAfterRemoval);
    expect(await count(alpha)).toEqual({ rows: sent, ids: sent });
    expect(betaAfterRemoval.rows).toBe(betaAfterRemoval.ids);
    expect((await sql<{ version: number }[]>`select distinct version from ${sql(alpha)} order by 1`).map((r) => r.version)).toEqual([1, 2]);
    const actions = ferry.logs.filter((l) => ["handler:added", "handler:replaced", "handler:removed", "handlers:rejected"].includes(String(l.msg)));
    expect(actions.map((l) => `${l.msg} ${l.file}`)).toEqual([
      "handler:added /handlers/order-totals.ts",
      "handler:added /handlers/alpha.ts",
      "handler:added /handlers/beta.ts",
      "handler:replaced /handlers/alpha.ts",
      "handler:removed /handlers/beta.ts",
    ]);
    expect(ferry.output()).not.toContain("EROFS");
  }, 240_000);

  test("SIGTERM drains and exits 0", async () => {
    const t0 = Date.now();
    expect(podman("kill", "--signal", "TERM", name).code).toBe(0);
    expect(await ferry.exited).toBe(0);
    console.log(`container: SIGTERM → exit 0 in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    expect(ferry.logs.find((l) => l.msg === "engine:stopped")).toMatchObject({ drained: true });
  }, 60_000);
});

test("the topology Job's command runs in the image with the Job's mounts (as `plan`: the test cluster is shared)", async () => {
  const jobPod: PodSpec = manifest(manifests, "Job").spec.template.spec;
  const job = jobPod.containers[0]!;
  const root = mkdtempSync(path.join(tmpdir(), "ferry-container-job-"));
  const env = podEnv(job, {});
  const name = `ferry-test-job-${id}`;
  containers.push(name);
  const args = job.args.map((a) => (a === "apply" ? "plan" : a));
  const plan = await runFerry(["podman", ...podmanRun(jobPod, job, name, writeVolumes(jobPod, root), env, args)], env, { binary: containerScript });
  // plan exits 0 (no changes) or 2 (changes), never 1 (a bad file, flag or mount; the cluster unreachable).
  expect([0, 2], plan.output).toContain(plan.code);
  expect(plan.output).toMatch(/^(Plan: |No changes)/m);
}, 120_000);
