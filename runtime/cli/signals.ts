import { createLogger, type Logger } from "../log/logger.ts";

export interface StopSignals {
  /**
   * Aborted by the first SIGTERM or SIGINT, with the signal's name as its reason. A start-up
   * still in progress stops at its next step and undoes what it started; a running worker drains.
   */
  readonly signal: AbortSignal;
  /** Resolves with the first SIGTERM or SIGINT (at once when it came during start-up). */
  readonly received: Promise<NodeJS.Signals>;
  /** Who reports the second-signal exit, once the command has its configured logger. */
  logTo(log: Logger): void;
}

/**
 * Listens for SIGTERM and SIGINT from now on: installed before anything starts, so a signal is
 * never the default kill (exit 143), which an orchestrator reads as a failure. The first one
 * aborts `signal`. From then on a second one exits at once (130): an operator who presses Ctrl-C
 * twice does not want to wait for the drain, nor for a start-up to unwind.
 */
export function listenForStopSignals(): StopSignals {
  const controller = new AbortController();
  let log: Logger = createLogger();
  let resolve!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      controller.abort(signal);
      resolve(signal);
      return;
    }
    log.warn("engine:second-signal-exit", { signal });
    process.exit(130);
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  return {
    signal: controller.signal,
    received,
    logTo(next) {
      log = next;
    },
  };
}
