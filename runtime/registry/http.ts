/**
 * HTTP to a Confluent-compatible schema registry: base URL, basic auth, TLS options, a timeout per
 * request and retries with backoff for what may heal by itself (network errors, timeouts, 5xx,
 * 429). A 4xx is the request's fault and is not retried.
 */
import { RegistryRequestError, RegistryUnavailableError } from "../errors.ts";

export interface RegistryConnection {
  /** Base URL: `http://host:8081` (Confluent) or `http://host:8080/apis/ccompat/v7` (Apicurio). */
  url: string;
  auth?: { username: string; password: string };
  /** PEM contents (not paths): CA bundle, client certificate and key for mutual TLS. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  retryBackoffMs: number;
}

export type RegistryRequest = <T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown) => Promise<T>;

const contentType = "application/vnd.schemaregistry.v1+json";

export function createRegistryHttp(
  connection: RegistryConnection,
  { fetch = globalThis.fetch, sleep = Bun.sleep }: { fetch?: typeof globalThis.fetch; sleep?: (ms: number) => Promise<unknown> } = {},
): RegistryRequest {
  const base = connection.url.replace(/\/+$/, "");
  const headers: Record<string, string> = { accept: contentType, "content-type": contentType };
  if (connection.auth) headers.authorization = `Basic ${btoa(`${connection.auth.username}:${connection.auth.password}`)}`;

  return async <T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> => {
    let lastProblem = "";
    for (let attempt = 0; attempt <= connection.retries; attempt++) {
      if (attempt > 0) await sleep(connection.retryBackoffMs * 2 ** (attempt - 1));
      let response: Response;
      let text: string;
      try {
        ({ response, text } = await exchange(fetch, `${base}${path}`, method, headers, body, connection));
      } catch (e) {
        const error = e as Error;
        lastProblem = error.name === "TimeoutError" ? `no answer within ${connection.timeoutMs} ms` : error.message;
        continue;
      }
      if (response.ok) return (text ? JSON.parse(text) : undefined) as T;
      const { message, code } = errorBody(text);
      if (response.status >= 500 || response.status === 429) {
        lastProblem = `HTTP ${response.status}${message ? `: ${message}` : ""}`;
        continue;
      }
      throw new RegistryRequestError(
        `schema registry refused ${method} ${path}: HTTP ${response.status}${code ? ` (error ${code})` : ""}: ${message || text.slice(0, 300)}`,
        response.status,
        code,
      );
    }
    throw new RegistryUnavailableError(
      `schema registry ${base} did not answer ${method} ${path} after ${connection.retries + 1} attempt(s): ${lastProblem}; check FERRY_SCHEMA_REGISTRY_URL and that the registry is up`,
    );
  };
}

/**
 * One request and its whole body, bounded by the timeout: the race guards the body read too,
 * whatever the fetch implementation does with the signal once the headers have arrived.
 */
async function exchange(
  fetch: typeof globalThis.fetch,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: unknown,
  connection: RegistryConnection,
) {
  const signal = AbortSignal.timeout(connection.timeoutMs);
  const timedOut = new Promise<never>((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
  const request = (async () => {
    const response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
      ...(connection.tls ? { tls: connection.tls } : {}),
    });
    return { response, text: await response.text() };
  })();
  request.catch(() => undefined); // settled by the race; a late rejection must not go unhandled
  return Promise.race([request, timedOut]);
}

function errorBody(text: string): { message: string; code: number | undefined } {
  try {
    const body = JSON.parse(text) as { message?: unknown; error_code?: unknown };
    return { message: typeof body.message === "string" ? body.message : "", code: typeof body.error_code === "number" ? body.error_code : undefined };
  } catch {
    return { message: "", code: undefined };
  }
}
