// Helpers for the bun-compat integration tests: the real Kafka cluster from
// .services/env, unique names, condition waits, and leak tracking of clients.
import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

// The package is CommonJS with a native addon; load it the way the runtime does.
// `any`: the package's own .d.ts files do not cover the low-level API used here.
export const rdkafka = createRequire(import.meta.url)("@confluentinc/kafka-javascript") as any;
export const { Kafka, logLevel } = rdkafka.KafkaJS;

const brokerList = process.env.FERRY_TEST_KAFKA_BROKERS;
if (!brokerList) {
  throw new Error("FERRY_TEST_KAFKA_BROKERS is not set: start the cluster with services/up.sh and `source .services/env` (scripts/test.sh does both)");
}
export const brokers = brokerList.split(",");

/** A topic or group name no other test (or earlier run) uses. */
export const uniqueName = (): string => `test-${randomUUID()}`;

/** One line per client log entry (the default logger prints whole objects). */
function createCompactLogger() {
  let level = logLevel.WARN;
  const write = (at: number, tag: string) => (message: string, extra?: { name?: string; fac?: string }) => {
    if (level >= at) console.error(`kafka ${tag} ${extra?.name ?? ""} ${extra?.fac ?? ""}: ${message}`);
  };
  const logger = {
    setLogLevel: (l: number) => {
      level = l;
    },
    namespace: () => logger,
    error: write(logLevel.ERROR, "error"),
    warn: write(logLevel.WARN, "warn"),
    info: write(logLevel.INFO, "info"),
    debug: write(logLevel.DEBUG, "debug"),
  };
  return logger;
}

/** KafkaJS-style client factory on the test cluster; logs only warnings and errors. */
export function newKafka(kafkaJS: Record<string, unknown> = {}) {
  return new Kafka({ kafkaJS: { brokers, logLevel: logLevel.WARN, logger: createCompactLogger(), ...kafkaJS } });
}

/**
 * Polls `probe` until it returns something other than undefined/false, then
 * returns that. Fails with `what` after `timeoutMs`.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}

interface Closeable {
  disconnect(): Promise<unknown> | unknown;
}

/**
 * Tracks the clients a test opened. `close` disconnects one; `closeAll` (in
 * afterEach) disconnects whatever is left and reports how many leaked.
 */
export function createClientTracker() {
  const open = new Map<object, () => Promise<unknown>>();
  return {
    /** Registers a connected client with the way to disconnect it. */
    add<T extends object>(client: T, disconnect: () => Promise<unknown> = () => (client as Closeable & T).disconnect() as Promise<unknown>): T {
      open.set(client, disconnect);
      return client;
    },
    async close(client: object): Promise<void> {
      const disconnect = open.get(client);
      if (!disconnect) throw new Error("closing a client this test did not open (or closed twice)");
      open.delete(client);
      await disconnect();
    },
    async closeAll(): Promise<number> {
      const leaked = [...open.values()];
      open.clear();
      await Promise.allSettled(leaked.map((d) => d()));
      return leaked.length;
    },
  };
}

/**
 * Registers the hooks every bun-compat test file needs, as tests/support/suite.ts does for the
 * end-to-end files: one admin client for the file, a check after each test that it closed every
 * client it opened, and the topics it created deleted at the end.
 */
export function useKafkaTestClients() {
  const kafka = newKafka();
  const clients = createClientTracker();
  const admin = kafka.admin(); // connected in beforeAll
  const topicsToDelete: string[] = [];
  beforeAll(async () => {
    await admin.connect();
  });
  afterEach(async () => {
    expect(await clients.closeAll()).toBe(0); // a test left a client connected
  });
  afterAll(async () => {
    if (topicsToDelete.length) await admin.deleteTopics({ topics: topicsToDelete, timeout: 30_000 });
    await admin.disconnect();
  });
  return {
    kafka,
    admin,
    clients,
    /** Creates a topic (a fresh name unless given) that is deleted after the file's last test. */
    async createTopic(numPartitions = 1, topic = uniqueName()): Promise<string> {
      await admin.createTopics({ topics: [{ topic, numPartitions }], timeout: 30_000 });
      topicsToDelete.push(topic);
      return topic;
    },
  };
}

/** Promisified node-rdkafka style connect/disconnect. */
export function connectLowLevel(client: { connect(opts: object, cb: (err: unknown) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => client.connect({}, (err) => (err ? reject(err) : resolve())));
}

export function disconnectLowLevel(client: { disconnect(cb: (err: unknown) => void): void }): Promise<void> {
  return new Promise((resolve, reject) => client.disconnect((err) => (err ? reject(err) : resolve())));
}

/** Open file descriptors and threads of this process, to spot leaks. */
export async function processResources(): Promise<{ fds: number; threads: number }> {
  const { readdirSync, readFileSync } = await import("node:fs");
  const status = readFileSync("/proc/self/status", "utf8");
  return {
    fds: readdirSync("/proc/self/fd").length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN),
  };
}
