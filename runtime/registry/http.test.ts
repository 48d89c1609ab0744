import { describe, expect, test } from "bun:test";
import { RegistryRequestError, RegistryUnavailableError } from "../errors.ts";
import { judge } from "../failure/policy.ts";
import { createRegistryHttp, type RegistryConnection } from "./http.ts";

const connection: RegistryConnection = {
  url: "http://registry.test/apis/ccompat/v7/",
  timeoutMs: 50,
  retries: 2,
  retryBackoffMs: 1,
  auth: { username: "u", password: "p" },
};

function fakeFetch(answers: Array<Response | Error>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return next ?? new Response("{}", { status: 200 });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });

describe("createRegistryHttp", () => {
  test("sends basic auth and the registry content type to base URL + path", async () => {
    const { fetch, calls } = fakeFetch([json(200, { id: 3 })]);
    const request = createRegistryHttp(connection, { fetch, sleep: async () => {} });
    expect(await request("POST", "/subjects/orders-value/versions", { schema: "{}" })).toEqual({ id: 3 });
    expect(calls[0]!.url).toBe("http://registry.test/apis/ccompat/v7/subjects/orders-value/versions");
    const headers = calls[0]!.init.headers as Record<string, string>;
    expect(headers.authorization).toBe(`Basic ${btoa("u:p")}`);
    expect(headers["content-type"]).toBe("application/vnd.schemaregistry.v1+json");
  });

  test("retries network errors and 5xx, then succeeds", async () => {
    const { fetch, calls } = fakeFetch([new Error("ECONNREFUSED"), json(503, { message: "busy" }), json(200, [1])]);
    const request = createRegistryHttp(connection, { fetch, sleep: async () => {} });
    expect(await request("GET", "/subjects/x/versions")).toEqual([1]);
    expect(calls.length).toBe(3);
  });

  test("gives up after the retries with an infrastructure error naming the last problem", async () => {
    const { fetch, calls } = fakeFetch([json(500, {}), json(502, {}), json(503, { message: "down" })]);
    const request = createRegistryHttp(connection, { fetch, sleep: async () => {} });
    const error = await request("GET", "/schemas/ids/1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).retriable).toBe(true);
    expect(judge({ error: error as Error, source: "registry" })).toEqual({ fault: "environment" });
    expect((error as Error).message).toContain("after 3 attempt(s): HTTP 503: down");
    expect(calls.length).toBe(3);
  });

  test("a 4xx is not retried and carries the registry's error code", async () => {
    const { fetch, calls } = fakeFetch([json(409, { error_code: 409, message: "Incompatible artifact" })]);
    const request = createRegistryHttp(connection, { fetch, sleep: async () => {} });
    const error = (await request("POST", "/subjects/s/versions", {}).catch((e: unknown) => e)) as RegistryRequestError;
    expect(error).toBeInstanceOf(RegistryRequestError);
    expect([error.status, error.errorCode]).toEqual([409, 409]);
    expect(error.message).toContain("Incompatible artifact");
    expect(calls.length).toBe(1);
  });

  test("a body that never ends times out too", async () => {
    const stalled = (async () => ({ ok: true, status: 200, text: () => new Promise(() => {}) })) as unknown as typeof globalThis.fetch;
    const request = createRegistryHttp({ ...connection, retries: 0 }, { fetch: stalled });
    await expect(request("GET", "/config")).rejects.toThrow("no answer within 50 ms");
  });

  test("a request that hangs times out and counts as unavailable", async () => {
    const hang = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)))) as unknown as typeof globalThis.fetch;
    const request = createRegistryHttp({ ...connection, retries: 0 }, { fetch: hang });
    await expect(request("GET", "/config")).rejects.toThrow("no answer within 50 ms");
  });
});
