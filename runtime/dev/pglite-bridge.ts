/**
 * Serves one PGlite database over the PostgreSQL wire protocol on loopback, so the engine's
 * postgres.js code (and psql, or any client) talks to it unchanged.
 *
 * PGlite is ONE backend session. Several client connections share it, so a connection takes the
 * database for itself from its first message until it is idle again — after a Sync or a simple
 * Query that leaves no transaction open — and other connections queue. Forwarding message by
 * message (as @electric-sql/pglite-socket does) lets two clients' Parse/Bind/Execute interleave
 * and run each other's portals. Session state (advisory locks, SET) is still shared: fine for
 * one dev process, and one more reason this is not a production database.
 */
import type { PGlite } from "@electric-sql/pglite";
import { createServer, type Socket } from "node:net";

const sslRequest = 80877103;
const gssEncRequest = 80877104;
const cancelRequest = 80877102;
const protocol3 = 196608;

export interface PgliteBridge {
  port: number;
  /** Closes every client connection (rolling back what they left open) and stops listening. */
  stop(): Promise<void>;
}

/** A FIFO lock over the one session: held by a connection until its unit of work is idle. */
function createSessionLock() {
  let owner: object | null = null;
  const waiting: Array<{ who: object; grant: () => void }> = [];
  return {
    async acquire(who: object) {
      if (owner === who) return;
      if (owner === null) {
        owner = who;
        return;
      }
      await new Promise<void>((grant) => waiting.push({ who, grant }));
    },
    release(who: object) {
      if (owner !== who) return;
      const next = waiting.shift();
      owner = next?.who ?? null;
      next?.grant();
    },
    forget(who: object) {
      const i = waiting.findIndex((w) => w.who === who);
      if (i >= 0) waiting.splice(i, 1);
    },
    holds: (who: object) => owner === who,
  };
}

export async function servePglite(db: PGlite, { host = "127.0.0.1", port = 0 }: { host?: string; port?: number } = {}): Promise<PgliteBridge> {
  const lock = createSessionLock();
  const sockets = new Set<Socket>();
  const finish = async (who: object) => {
    if (!lock.holds(who)) return;
    // A client that vanished mid-transaction must not leave the shared session inside it.
    if (db.isInTransaction()) await db.exec("rollback").catch(() => undefined);
    lock.release(who);
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const who = {};
    let buffer = Buffer.alloc(0);
    let started = false;
    let chain = Promise.resolve();
    const send = (bytes: Uint8Array) => {
      if (bytes.length > 0 && socket.writable) socket.write(bytes);
    };

    const handle = async (message: Buffer, type: string | null) => {
      await lock.acquire(who);
      await db.execProtocolRawStream(new Uint8Array(message), { onRawData: send });
      // The unit of work ends with Sync (extended protocol) or a simple Query, once no transaction is open.
      if ((type === null || type === "S" || type === "Q") && !db.isInTransaction()) lock.release(who);
    };

    const drain = async () => {
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          const code = buffer.readInt32BE(4);
          if (buffer.length < length) return;
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === sslRequest || code === gssEncRequest) send(Buffer.from("N"));
          else if (code === cancelRequest)
            socket.end(); // no second backend to signal: PGlite cannot cancel
          else if (code === protocol3) {
            started = true;
            await handle(Buffer.from(message), null);
          } else {
            socket.destroy();
            return;
          }
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const message = Buffer.from(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        const type = String.fromCharCode(message[0]!);
        if (type === "X") {
          socket.end();
          return;
        }
        await handle(message, type);
      }
    };

    socket.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      // One message at a time per connection, in arrival order.
      chain = chain.then(drain).catch(() => void socket.destroy());
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      sockets.delete(socket);
      lock.forget(who); // a message still waiting for the session is never run
      chain = chain.then(() => finish(who));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the embedded PostgreSQL bridge has no TCP address");
  return {
    port: address.port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
