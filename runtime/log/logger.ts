/**
 * Structured JSON-lines logger. The message is a constant string; data goes in fields.
 * Never pass payloads or secrets: fields are written as given.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => process.stderr.write(`${line}\n`);

/** Fields read at write time from the ambient context (e.g. the active trace); undefined adds none. */
export type LogContext = () => Record<string, unknown> | undefined;

export function createLogger({
  level = "info",
  sink = stderrSink,
  base = {},
  context,
}: {
  level?: LogLevel;
  sink?: LogSink;
  base?: Record<string, unknown>;
  context?: LogContext;
} = {}): Logger {
  const min = levelRank[level];
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (levelRank[lvl] < min) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...context?.(), ...serializeFields(fields) }));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ level, sink, base: { ...base, ...fields }, ...(context ? { context } : {}) }),
  };
}

function serializeFields(fields?: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message } : typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}
