import { afterAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { header } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  status?: { code?: number };
}

/** A tiny OTLP/HTTP receiver: what arrives at /v1/traces, as JSON spans (with their service) or raw protobuf bodies. */
const received: { json: Array<OtlpSpan & { service?: string }>; protobuf: Buffer[]; contentTypes: string[] } = { json: [], protobuf: [], contentTypes: [] };
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") return new Response("not here", { status: 404 });
    const type = request.headers.get("content-type") ?? "";
    received.contentTypes.push(type);
    if (type.includes("json")) {
      const body = (await request.json()) as {
        resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue;
        for (const ss of rs.scopeSpans) for (const span of ss.spans) received.json.push({ ...span, ...(service ? { service } : {}) });
      }
      return Response.json({});
    }
    received.protobuf.push(Buffer.from(await request.arrayBuffer()));
    return new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
  },
});
afterAll(() => receiver.stop(true));

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue === undefined ? v?.boolValue : Number(v.intValue));
};

/** An event that carries a trace started by its producer, and that the handler refuses at once (a dead letter). */
async function produceTraced(topic: string) {
  const traceId = randomBytes(16).toString("hex");
  const producerSpanId = randomBytes(8).toString("hex");
  const eventId = `${topic}-traced`;
  await suite.kafka().send([
    {
      topic,
      key: "k1",
      value: JSON.stringify({ n: 1, key: "b1", seq: 1, fail: "permanent" }),
      headers: { "event-id": eventId, traceparent: `00-${traceId}-${producerSpanId}-01` },
    },
  ]);
  return { traceId, producerSpanId, eventId };
}

test("OTLP http/json: one trace from the producer's traceparent through the handler to the dead letter and its send span", async () => {
  const s = await suite.scenario("trace-json", { partitions: 1 });
  const worker = s.start({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "ferry-trace-test",
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
  expect(await worker.waitForLog("telemetry:exporting")).toMatchObject({
    exporter: "otlp",
    url: `http://127.0.0.1:${receiver.port}/v1/traces`,
    protocol: "http/json",
  });
  await worker.waitForLog("partitions:assigned");
  const { traceId, producerSpanId, eventId } = await produceTraced(s.topic);
  const [letter] = await s.readDeadLetters(1);
  const spans = await waitFor("the process and send spans of the trace", () => {
    const mine = received.json.filter((x) => x.traceId === traceId);
    return mine.length >= 2 ? mine : undefined;
  });
  const processSpan = spans.find((x) => x.name === `process ${s.topic}`)!;
  const sendSpan = spans.find((x) => x.name === `send ${s.deadLetterTopic}`)!;
  expect(processSpan).toMatchObject({ parentSpanId: producerSpanId, kind: 5, service: "ferry-trace-test", status: { code: 2 } });
  expect(Object.fromEntries(processSpan.attributes.map((a) => [a.key, attr(processSpan, a.key)]))).toMatchObject({
    "messaging.system": "kafka",
    "messaging.operation.type": "process",
    "messaging.destination.name": s.topic,
    "messaging.destination.partition.id": "0",
    "messaging.kafka.offset": 0,
    "messaging.consumer.group.name": s.groupId,
    "messaging.message.id": eventId,
  });
  // The dead letter's produce: a producer span in the same trace, under the event's context.
  expect(sendSpan).toMatchObject({ parentSpanId: producerSpanId, kind: 4 });
  expect(attr(sendSpan, "messaging.destination.name")).toBe(s.deadLetterTopic);
  expect(attr(sendSpan, "messaging.message.id")).toBe(eventId);
  expect(attr(sendSpan, "ferry.dead_letter.reason")).toBe("permanent");
  // ...and the dead letter carries the trace on: its traceparent names that send span.
  expect(header(letter!, "traceparent")).toBe(`00-${traceId}-${sendSpan.spanId}-01`);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("OTLP http/protobuf (the default protocol) carries the same spans", async () => {
  const s = await suite.scenario("trace-proto", { partitions: 1 });
  const worker = s.start({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${receiver.port}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: "200" });
  await worker.waitForLog("partitions:assigned");
  const { traceId } = await produceTraced(s.topic);
  await s.readDeadLetters(1);
  // Protobuf carries ids as raw bytes and names as raw strings: both spans of the trace are in the bodies.
  const bodies = await waitFor("a protobuf body with the trace's send span", () => {
    const all = Buffer.concat(received.protobuf);
    return all.includes(Buffer.from(traceId, "hex")) && all.includes(`send ${s.deadLetterTopic}`) ? all : undefined;
  });
  expect(bodies.includes(`process ${s.topic}`)).toBe(true);
  expect(received.contentTypes).toContain("application/x-protobuf");
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("without OTEL_* settings no SDK starts and the dead letter keeps the producer's traceparent", async () => {
  const s = await suite.scenario("trace-off", { partitions: 1 });
  const worker = s.start({ OTEL_SERVICE_NAME: "only-a-name" });
  await worker.waitForLog("partitions:assigned");
  const { traceId, producerSpanId } = await produceTraced(s.topic);
  const [letter] = await s.readDeadLetters(1);
  expect(header(letter!, "traceparent")).toBe(`00-${traceId}-${producerSpanId}-01`);
  expect(worker.logs.some((l) => l.msg === "telemetry:exporting")).toBe(false);
  // The handler's log lines still carry the trace id (context propagation needs no SDK).
  expect(worker.logs.find((l) => l.msg === "event:dead-lettering")).toMatchObject({ traceId });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});
