import type { FerryProcess } from "../../support/ferry-process.ts";
import { explainingFailure, waitFor } from "../../support/wait.ts";
import type { FaultScenario } from "./scenario.ts";

/** A point of the commit protocol (FERRY_FAULT_INJECT) and how many of its hits may pass before the worker dies there. */
export type FaultPoint = readonly [point: string, maxHit: number];

/**
 * Where to die: inside a handler's transaction, while a dead letter is in flight, after it was
 * acknowledged, between the PostgreSQL and the Kafka commit. The ranges suit batches of 100.
 */
export const commitProtocolPoints: readonly FaultPoint[] = [
  ["handler", 400],
  ["dead-letter-sending", 4],
  ["dead-letter-acked", 4],
  ["db-committed", 10],
];

export interface KillLoopOptions {
  /** The seeded random source of the run: which life is killed from outside, when, and at which hit. */
  random: () => number;
  /** SIGKILLs to reach; lives after the last one are left alone. */
  kills: number;
  /** Share of lives killed from outside after 1-4 s instead of at an armed point. */
  outsideRate: number;
  /** Workers alive at once: a dead one's partitions move to the others while it is replaced. */
  workers?: number;
  points?: readonly FaultPoint[];
  /** Called whenever the group caught up before the last kill: the faults need work to hit. */
  produceMore: () => Promise<unknown>;
  timeoutMs: number;
}

export interface KillLoopResult {
  /** SIGKILLs seen: at least `kills`. */
  killed: number;
  killedFromOutside: number;
  elapsedMs: number;
}

/**
 * Worker lives, each ended by a SIGKILL until `kills` were reached: armed with one fault point
 * (every point in turn, so each is hit in every run; at which hit is random) or killed from
 * outside after a random delay. A dead worker is replaced at once. Resolves when every record is
 * committed with the kills done; rejects at once when a worker exits by itself.
 */
export async function runKillLoop(scenario: FaultScenario, options: KillLoopOptions): Promise<KillLoopResult> {
  const { random, kills, outsideRate, workers = 2, points = commitProtocolPoints, produceMore, timeoutMs } = options;
  let killed = 0;
  let outside = 0;
  let armed = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const isRunning = (w: FerryProcess) => w.proc.exitCode === null && w.proc.signalCode === null;

  const life = (): FerryProcess => {
    if (killed >= kills) return scenario.start();
    if (random() < outsideRate) {
      const worker = scenario.start();
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (isRunning(worker)) {
            outside++;
            worker.proc.kill("SIGKILL");
          }
        },
        1_000 + random() * 3_000,
      );
      timers.add(timer);
      return worker;
    }
    const [point, maxHit] = points[armed++ % points.length]!;
    return scenario.start({ FERRY_FAULT_INJECT: `${point}@${1 + Math.floor(random() * maxHit)}` });
  };

  const running = Array.from({ length: workers }, life);
  const started = Date.now();
  try {
    // waitFor retries a check that throws, so a worker that exited by itself is returned, not thrown.
    const outcome = await explainingFailure(
      () =>
        waitFor(
          "every record committed, with the kills done",
          async (): Promise<{ exitedByItself: FerryProcess } | { done: true } | undefined> => {
            for (let i = 0; i < running.length; i++) {
              const w = running[i]!;
              if (isRunning(w)) continue;
              if (w.proc.signalCode !== "SIGKILL") return { exitedByItself: w };
              killed++;
              running[i] = life();
            }
            if (!(await scenario.caughtUp())) return undefined;
            if (killed >= kills) return { done: true };
            await produceMore();
            return undefined;
          },
          { timeoutMs, intervalMs: 200 },
        ),
      async () => `${killed} of ${kills} kills done\n${await scenario.stallReport()}`,
    );
    if ("exitedByItself" in outcome) {
      const w = outcome.exitedByItself;
      throw new Error(`a worker exited by itself (code ${w.proc.exitCode}, signal ${w.proc.signalCode}):\n${w.output().slice(-2_000)}`);
    }
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  return { killed, killedFromOutside: outside, elapsedMs: Date.now() - started };
}
