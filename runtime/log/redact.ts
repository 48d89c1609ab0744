/**
 * Error messages go into log lines (the issue an operator reads first), but a handler's message,
 * or PostgreSQL's ("invalid input syntax for type integer: \"4111…\""), can quote the event's data,
 * and logs never carry payloads. This takes the event's own values back out of a message. The
 * dead letter keeps the message as it was: the dead letter topic holds the payload anyway.
 */
export interface RedactionSource {
  value?: unknown;
  key?: string | null;
  headers?: Readonly<Record<string, string>>;
}

/** Shorter fragments are too common to say anything about an event (and would mangle messages). */
const MIN_FRAGMENT = 4;
const MAX_FRAGMENTS = 2_000;
const MASK = "‹redacted›";

export function redactEventData(message: string, sources: readonly RedactionSource[]): string {
  const fragments = new Set<string>();
  const add = (text: string) => {
    if (text.length >= MIN_FRAGMENT && fragments.size < MAX_FRAGMENTS) fragments.add(text);
  };
  const walk = (v: unknown, depth: number): void => {
    if (fragments.size >= MAX_FRAGMENTS || depth > 8) return;
    if (typeof v === "string") add(v);
    else if (typeof v === "number" || typeof v === "bigint") add(String(v));
    else if (Buffer.isBuffer(v)) add(v.toString("utf8"));
    else if (Array.isArray(v)) for (const item of v) walk(item, depth + 1);
    else if (v && typeof v === "object") for (const item of Object.values(v)) walk(item, depth + 1);
  };
  for (const source of sources) {
    walk(source.value, 0);
    if (source.key) add(source.key);
    for (const value of Object.values(source.headers ?? {})) add(value);
  }
  if (fragments.size === 0) return message;
  let text = message;
  // Longest first: a fragment inside a longer one must not leave the rest of the longer one behind.
  for (const fragment of [...fragments].sort((a, b) => b.length - a.length)) {
    if (text.includes(fragment)) text = text.split(fragment).join(MASK);
  }
  return text;
}
