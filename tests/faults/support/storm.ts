import type { FerryProcess } from "../../support/ferry-process.ts";
import { waitFor } from "../../support/wait.ts";
import type { FaultScenario } from "./scenario.ts";

/** A partitions:assigned or partitions:revoked line that names at least one partition. */
const nonEmpty = (l: Record<string, unknown>, msg: string) => l.msg === msg && Array.isArray(l.partitions) && l.partitions.length > 0;

export interface StormOptions {
  /** The seeded random source of the run: how long each round lasts, who joins, who leaves. */
  random: () => number;
  rounds: number;
  /** Sends `count` new events: 2,000 before the first worker, then some each round. */
  produce: (count: number) => Promise<unknown>;
  eventsPerRound?: number;
}

export interface StormResult {
  joined: number;
  leftGracefully: number;
  killed: number;
  /** The workers still in the group: each must still be running at the end. */
  alive: FerryProcess[];
  /** From the first round to the last (the catch-up after it not included). */
  stormMs: number;
}

/**
 * Rounds of workers joining and leaving the group (between one and four at a time) under a steady
 * stream: each round one joins, or one leaves, mostly by SIGTERM, every third leave by SIGKILL
 * (its partitions move only when its session times out). A round lasts 3-4.5 s: long enough for
 * a cooperative rebalance (two steps) to finish, so partitions do move; shorter rounds let most
 * joiners leave before they were given anything.
 */
export async function runStorm(scenario: FaultScenario, { random, rounds, produce, eventsPerRound = 300 }: StormOptions): Promise<StormResult> {
  const alive: FerryProcess[] = [];
  const counts = { joined: 0, leftGracefully: 0, killed: 0 };
  const join = () => {
    alive.push(scenario.start());
    counts.joined++;
  };
  await produce(2_000);
  join();
  await alive[0]!.waitForLog("partitions:assigned", 90_000);
  const started = Date.now();
  for (let round = 0; round < rounds; round++) {
    await Promise.all([produce(eventsPerRound), Bun.sleep(3_000 + random() * 1_500)]);
    if (alive.length === 1 || (alive.length < 4 && random() < 0.5)) {
      join();
      continue;
    }
    const leaving = alive.splice(Math.floor(random() * alive.length), 1)[0]!;
    if ((counts.leftGracefully + counts.killed) % 3 !== 2) {
      // The storm is about partitions leaving a member, so only a worker that holds some is
      // stopped: each graceful leave is a real move. (One stopped during start-up aborts it and
      // exits 0: tests/e2e/start-abort.test.ts. One stopped after engine:running but before its
      // first assignment was seen to wait out the 30 s drain and exit 1 while the group was held
      // by a SIGKILLed member: not covered here.)
      await waitFor("the leaving worker holding partitions", () => leaving.logs.some((l) => nonEmpty(l, "partitions:assigned")), {
        timeoutMs: 90_000,
        intervalMs: 50,
      });
      leaving.proc.kill("SIGTERM");
      const code = await leaving.exited;
      if (code !== 0) throw new Error(`a worker stopped by SIGTERM exited with ${code}:\n${leaving.output().slice(-3_000)}`);
      counts.leftGracefully++;
    } else {
      leaving.proc.kill("SIGKILL");
      await leaving.exited;
      counts.killed++;
    }
  }
  return { ...counts, alive, stormMs: Date.now() - started };
}

/**
 * The partition moves the workers' logs show: revocations, and of those the ones a rebalance made
 * (partitions taken from a worker that was not leaving: before its engine:draining line), and
 * assignments that gave partitions to a worker that joined after the first one. Empty steps of a
 * cooperative rebalance (nothing moved for this member) do not count.
 */
export function partitionMoves(workers: readonly FerryProcess[]): { revocations: number; rebalanceRevocations: number; assignmentsToJoiners: number } {
  let revocations = 0;
  let rebalanceRevocations = 0;
  let assignmentsToJoiners = 0;
  workers.forEach((w, i) => {
    let leaving = false;
    for (const l of w.logs) {
      if (l.msg === "engine:draining") leaving = true;
      if (nonEmpty(l, "partitions:revoked")) {
        revocations++;
        if (!leaving) rebalanceRevocations++;
      }
      if (i > 0 && nonEmpty(l, "partitions:assigned")) assignmentsToJoiners++;
    }
  });
  return { revocations, rebalanceRevocations, assignmentsToJoiners };
}

/**
 * What a storm of `rounds` must reach: 4 revocations by a rebalance and 5 assignments to joiners
 * in 10 rounds (16 and 20 in the long run's 40). Rounds of 3-4.5 s reached 5-8 and 7-11; the
 * rounds of 0.8-2.3 s they replaced 1-4 and 6-9 (so one run of those may pass; 0.2-0.5 s fail).
 */
export function minimumMoves(rounds: number): { rebalanceRevocations: number; assignmentsToJoiners: number } {
  return { rebalanceRevocations: Math.floor(rounds * 0.4), assignmentsToJoiners: Math.floor(rounds * 0.5) };
}
