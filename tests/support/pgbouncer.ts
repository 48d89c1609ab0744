import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./tcp-proxy.ts";
import { explainingFailure, waitFor } from "./wait.ts";

export interface PgBouncer {
  /** `url` with its host and port replaced by the pooler's. */
  through(url: string): string;
  stop(): Promise<void>;
}

/**
 * A real PgBouncer (Debian's, installed by scripts/test.sh) in front of the test database's server,
 * with trust auth, in `mode`. Run as `nobody` when the tests run as root (PgBouncer refuses root).
 */
export async function startPgBouncer(mode: "transaction" | "session", databaseUrl: string): Promise<PgBouncer> {
  const binary = Bun.which("pgbouncer") ?? Bun.which("pgbouncer", { PATH: "/usr/sbin:/usr/bin" });
  if (!binary) throw new Error("pgbouncer is not installed: scripts/test.sh installs Debian's (apt-get install pgbouncer)");
  const server = new URL(databaseUrl);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-pgbouncer-"));
  chmodSync(dir, 0o777);
  const user = decodeURIComponent(server.username || "postgres");
  writeFileSync(path.join(dir, "users.txt"), `"${user}" ""\n`);
  writeFileSync(
    path.join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${server.hostname} port=${server.port || 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${dir}/users.txt
pool_mode = ${mode}
default_pool_size = 5
logfile = ${dir}/pgbouncer.log
ignore_startup_parameters = extra_float_digits,options,application_name
`,
  );
  const asRoot = process.getuid?.() === 0;
  const proc = Bun.spawn([binary, ...(asRoot ? ["-u", "nobody"] : []), path.join(dir, "pgbouncer.ini")], { stdout: "ignore", stderr: "pipe" });
  const listening = () =>
    Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (socket) => {
        socket.end();
        return true;
      },
      () => false,
    );
  const started = await explainingFailure(
    () =>
      waitFor(`pgbouncer listening on ${port}`, async () => (proc.exitCode !== null ? "exited" : (await listening()) && "listening"), {
        timeoutMs: 10_000,
        intervalMs: 50,
      }),
    async () => readFileSync(path.join(dir, "pgbouncer.log"), "utf8").slice(-2000),
  );
  if (started === "exited") throw new Error(`pgbouncer exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
  return {
    through(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
