/** A client for a running worker's HTTP endpoints; `token` is sent as the admin bearer token. */
export function adminClient(port: number, token?: string) {
  const base = `http://127.0.0.1:${port}`;
  const headers = (extra: Record<string, string> = {}) => ({ ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra });
  return {
    base,
    get: (path: string) => fetch(base + path, { headers: headers() }),
    post: (path: string, body: unknown = {}) =>
      fetch(base + path, { method: "POST", headers: headers({ "content-type": "application/json" }), body: JSON.stringify(body) }),
    async json<T = any>(path: string, body?: unknown): Promise<T> {
      const res = body === undefined ? await this.get(path) : await this.post(path, body);
      if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as T;
    },
    /** Sum of lag over the handler's partitions, from the admin API. */
    async lag(handler: string): Promise<number> {
      const { handlers } = await this.json<{ handlers: Array<{ name: string; partitions: Array<{ lag: number }> }> }>("/api/handlers");
      return handlers.find((h) => h.name === handler)?.partitions.reduce((n, p) => n + p.lag, 0) ?? -1;
    },
    /** The value of one metric series from /metrics (0 when absent). */
    async metric(series: string): Promise<number> {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    },
  };
}
