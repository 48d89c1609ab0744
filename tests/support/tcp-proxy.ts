/**
 * A TCP proxy in the test process, between Ferry and a service: closed (the port refuses), open
 * (forwarding), or paused (a partition: connections stay up but nothing passes either way, and new
 * connections are accepted but get no answer) — the faults a worker meets when its network does.
 */
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  readonly address: string;
  /** Starts listening (again) on the same port and forwards. */
  open(): Promise<void>;
  /** Nothing passes until resume(): bytes wait in the kernel's buffers, new connections hang. */
  pause(): void;
  resume(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
  /** Connections made through it so far. */
  readonly connections: number;
}

/** A free port on `host` now (a proxy created with it starts closed). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  /** Bytes that arrived during a partition, each way: delivered when it heals, as TCP would retransmit them. */
  held: Array<{ to: "client" | "upstream"; chunk: Buffer }>;
}

export async function createTcpProxy(
  target: { host: string; port: number },
  { port, listen = true, host = "127.0.0.1" }: { port?: number; listen?: boolean; host?: string } = {},
): Promise<TcpProxy> {
  const chosen = port ?? (await freePort(host));
  const pairs = new Set<Pair>();
  let paused = false;
  let connections = 0;
  let server: net.Server | undefined;

  const forward = (pair: Pair, to: "client" | "upstream", chunk: Buffer) => {
    if (paused) pair.held.push({ to, chunk });
    else pair[to]?.write(chunk);
  };
  const end = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };
  const connectUpstream = (pair: Pair) => {
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on("data", (chunk: Buffer) => forward(pair, "client", chunk));
    upstream.on("error", () => end(pair));
    upstream.on("close", () => end(pair));
  };

  const proxy: TcpProxy = {
    port: chosen,
    address: `${host}:${chosen}`,
    get connections() {
      return connections;
    },
    async open() {
      if (server) return;
      server = net.createServer((client) => {
        connections += 1;
        const pair: Pair = { client, held: [] };
        pairs.add(pair);
        client.on("data", (chunk: Buffer) => forward(pair, "upstream", chunk));
        client.on("error", () => end(pair));
        client.on("close", () => end(pair));
        // A connection made during a partition reaches the service only when it heals.
        if (!paused) connectUpstream(pair);
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(chosen, host, () => resolve());
      });
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const pair of pairs) {
        if (!pair.upstream) connectUpstream(pair);
        for (const { to, chunk } of pair.held.splice(0)) pair[to]?.write(chunk);
      }
    },
    async close() {
      const closing = server;
      server = undefined;
      for (const pair of [...pairs]) end(pair);
      if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
  if (listen) await proxy.open();
  return proxy;
}
