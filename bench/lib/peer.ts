/**
 * The peer (bench/peer/): the plain Java program a competent engineer would write for this one
 * job instead of adopting Ferry. Built once per source version into .cache/bench-peer/<hash>/
 * (Maven's repository under .cache/m2, like services/lib.sh), started as its own JVM and
 * measured like Ferry: CPU and memory of the process, the PostgreSQL backends of the database.
 */
import { appendFileSync, closeSync, existsSync, mkdirSync, readdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { startSampler } from "./proc-stats.ts";
import { say } from "./setup.ts";

const root = path.join(import.meta.dir, "../..");
const source = path.join(root, "bench/peer");

/**
 * The JVM flags the peer ships with (bench/peer/README.md says why): the default collector (G1),
 * a heap bound well above what the job holds, and a clean exit instead of limping on after an
 * OutOfMemoryError.
 */
export const PEER_JVM_FLAGS = ["-Xmx512m", "-XX:+ExitOnOutOfMemoryError"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

/** The peer's jar, built when its sources changed since the last build (a stamp holds their hash). */
export async function buildPeer(): Promise<{ jar: string; java: string; javaVersion: string }> {
  const hasher = new Bun.CryptoHasher("sha256");
  // What the build reads: the POM and the sources (not the README, not a local target/).
  for (const f of [path.join(source, "pom.xml"), ...sourceFiles(path.join(source, "src"))])
    hasher.update(`${path.relative(source, f)}\0`).update(readFileSync(f));
  const hash = hasher.digest("hex").slice(0, 16);
  const out = path.join(root, ".cache/bench-peer", hash);
  const jar = path.join(out, "ferry-peer.jar");
  const stamp = path.join(out, ".built");
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin/java") : "java";
  if (!existsSync(stamp)) {
    say(`building the peer (bench/peer, Maven) into ${path.relative(root, out)}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // Maven writes to a file, not a pipe: the build runs for minutes on a fresh machine (the
    // downloads), and a Bun test run once died by SIGSEGV during it with nothing printed.
    const log = path.join(out, "build.log");
    const fd = openSync(log, "w");
    let code: number;
    try {
      const mvn = Bun.spawn(
        ["mvn", "-q", "-B", `-Dmaven.repo.local=${path.join(root, ".cache/m2")}`, `-Dpeer.build.dir=${out}`, "-f", path.join(source, "pom.xml"), "package"],
        { cwd: root, stdin: "ignore", stdout: fd, stderr: fd },
      );
      code = await mvn.exited;
    } finally {
      closeSync(fd);
    }
    if (code !== 0 || !existsSync(jar)) {
      throw new Error(`building bench/peer failed (mvn exited with ${code}; needs mvn and a JDK 17+); ${log}:\n${readFileSync(log, "utf8").slice(-20_000)}`);
    }
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  }
  const v = Bun.spawnSync([java, "-version"], { stderr: "pipe" });
  const javaVersion = /version "([^"]+)"/.exec(v.stderr.toString())?.[1] ?? "unknown";
  return { jar, java, javaVersion };
}

export interface PeerStart {
  jar: string;
  java: string;
  brokers: string;
  topic: string;
  groupId: string;
  /** postgres://… of the benchmark's database; the peer gets it as a JDBC URL. */
  databaseUrl: string;
  /** The PostgreSQL schema that holds this run's inbox, business keys and effects. */
  schema: string;
  database: string;
  /** The bench's own PostgreSQL backends, left out of PostgreSQL's CPU. */
  benchBackends?: ReadonlySet<number>;
  format: "avro" | "json";
  registryUrl?: string;
  readerSchemaFile?: string;
  /** Where the peer's log goes (BENCH_FERRY_LOG_DIR), besides the tail kept for errors. */
  logFile?: string;
}

/** postgres://user:password@host:port/db → jdbc:postgresql://host:port/db?user=…&password=…&currentSchema=… */
export function jdbcUrl(databaseUrl: string, schema: string): string {
  const u = new URL(databaseUrl);
  const params = new URLSearchParams();
  if (u.username) params.set("user", decodeURIComponent(u.username));
  if (u.password) params.set("password", decodeURIComponent(u.password));
  params.set("currentSchema", schema);
  return `jdbc:postgresql://${u.host}${u.pathname}?${params}`;
}

/** Creates the peer's schema and its effects table (the same statement as Ferry's handlers' tables). */
export async function preparePeerSchema(sql: postgres.Sql, schema: string, effectsTableSql: (table: string) => string) {
  await sql.unsafe(`create schema ${schema}`);
  await sql.unsafe(effectsTableSql(`${schema}.order_totals`));
}

export function startPeer(o: PeerStart) {
  if (o.logFile) appendFileSync(o.logFile, `${new Date().toISOString()} bench: spawning the peer\n`);
  const startedAt = performance.now();
  const proc = Bun.spawn([o.java, ...PEER_JVM_FLAGS, "-jar", o.jar], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PEER_BOOTSTRAP_SERVERS: o.brokers,
      PEER_TOPIC: o.topic,
      PEER_GROUP_ID: o.groupId,
      PEER_JDBC_URL: jdbcUrl(o.databaseUrl, o.schema),
      PEER_FORMAT: o.format,
      ...(o.registryUrl ? { PEER_SCHEMA_REGISTRY_URL: o.registryUrl } : {}),
      ...(o.readerSchemaFile ? { PEER_READER_SCHEMA: o.readerSchemaFile } : {}),
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let tail = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      tail = (tail + text).slice(-8_000);
      if (o.logFile) appendFileSync(o.logFile, text);
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return {
    pid: proc.pid,
    startedAt,
    sampler: startSampler(proc.pid, o.database, o.benchBackends ? { benchBackends: o.benchBackends } : {}),
    /** Throws when the peer has exited (it never does on its own unless something failed). */
    checkAlive() {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the peer exited with ${proc.exitCode ?? proc.signalCode}:\n${tail}`);
    },
    output: () => tail,
    async stop() {
      this.sampler.stop();
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}
