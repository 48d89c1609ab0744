/** The benchmark's own database, dropped and created again for every run. */
import path from "node:path";

const script = path.join(import.meta.dir, "../../services/postgres.sh");

async function postgresSh(...args: string[]) {
  const proc = Bun.spawn(["bash", script, ...args], { stdout: "pipe", stderr: "pipe" });
  if ((await proc.exited) !== 0) throw new Error(`services/postgres.sh ${args.join(" ")} failed: ${await new Response(proc.stderr).text()}`);
}

/** Drops and creates `name`; returns its URL (the server of FERRY_TEST_DATABASE_URL). */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  await postgresSh("drop-db", name);
  await postgresSh("create-db", name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  // Its own name on the shared server (postgres.js takes URL parameters over Ferry's "ferry"):
  // the fault tests terminate connections named "ferry", and a run's are not theirs to kill.
  url.searchParams.set("application_name", "ferry-bench");
  return url.toString();
}
