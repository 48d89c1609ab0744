import type { Logger } from "../log/logger.ts";

/**
 * Resolves with the first SIGTERM or SIGINT. From then on a second one exits at once (130):
 * an operator who presses Ctrl-C twice does not want to wait for the drain.
 */
export async function untilStopSignal(log: Logger): Promise<NodeJS.Signals> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const exitNow = () => {
    log.warn("engine:second-signal-exit");
    process.exit(130);
  };
  process.once("SIGTERM", exitNow);
  process.once("SIGINT", exitNow);
  return signal;
}
