import { describe, expect, test } from "bun:test";
import { configProblems, minimalRunEnv } from "./config-problems.ts";
import { loadConfig } from "./load.ts";

const minimal = minimalRunEnv;

const problemsOf = (env: Record<string, string>) => configProblems(() => loadConfig({ ...minimal, ...env }));

describe("OpenTelemetry settings (OTEL_*)", () => {
  test.each([
    [{}, "no variable"],
    [{ OTEL_SERVICE_NAME: "orders" }, "a service name alone"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_TRACES_EXPORTER: "none" }, "exporter none"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" }, "the SDK disabled"],
  ])("%p: nothing is exported (%s)", (env) => {
    expect(loadConfig({ ...minimal, ...env }).telemetry).toBeUndefined();
  });

  test("an endpoint turns OTLP export on, with the spec's defaults", () => {
    const t = loadConfig({ ...minimal, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).telemetry;
    expect(t).toEqual({
      serviceName: "ferry",
      resourceAttributes: {},
      exporter: "otlp",
      otlp: { url: "http://collector:4318/v1/traces", protocol: "http/protobuf", headers: {}, timeoutMs: 10_000, compression: "none" },
      sampler: { kind: "parentbased_always_on", ratio: 1 },
      propagators: ["tracecontext", "baggage"],
      batch: { scheduleDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
    });
  });

  test("signal-specific variables win; headers and resource attributes are key=value lists", () => {
    const t = loadConfig({
      ...minimal,
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example:443/otlp/v1/traces",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "x-team=orders,authorization=Bearer%20abc",
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "2500",
      OTEL_SERVICE_NAME: "order-totals",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,k8s.pod.name=ferry-0",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_PROPAGATORS: "tracecontext",
    }).telemetry!;
    expect(t.otlp).toEqual({
      url: "https://traces.example:443/otlp/v1/traces",
      protocol: "http/json",
      headers: { "x-team": "orders", authorization: "Bearer abc" },
      timeoutMs: 2_500,
      compression: "none",
    });
    expect(t.serviceName).toBe("order-totals");
    expect(t.resourceAttributes).toEqual({ "deployment.environment": "prod", "k8s.pod.name": "ferry-0" });
    expect(t.sampler).toEqual({ kind: "parentbased_traceidratio", ratio: 0.25 });
    expect(t.propagators).toEqual(["tracecontext"]);
  });

  test("OTEL_TRACES_EXPORTER=console needs no endpoint", () => {
    expect(loadConfig({ ...minimal, OTEL_TRACES_EXPORTER: "console" }).telemetry?.exporter).toBe("console");
  });

  test.each([
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL"],
    [{ OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER must be one of: otlp, console, none"],
    [{ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER_ARG: "0.5" }, "OTEL_TRACES_SAMPLER=parentbased_always_on takes no ratio"],
    [{ OTEL_TRACES_SAMPLER_ARG: "2" }, "OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1"],
  ])("refuses %p", (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  test("a malformed header list is refused without showing what it holds", () => {
    const [problem] = problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_HEADERS: "api-key=ok,TOPSECRET" });
    expect(problem).toBe("OTEL_EXPORTER_OTLP_HEADERS must be a comma-separated list of key=value pairs (entry 2 is not; value not shown)");
  });
});
