/**
 * Can the Kafka cluster be reached? At start, each check is a short-lived librdkafka client with
 * Ferry's own connection settings, so TLS and SASL are checked exactly as the engine will use
 * them; while running, the engine's own admin client is asked.
 */
import { RdKafka } from "@confluentinc/kafka-javascript";
import { DependencyRefusedError } from "../errors.ts";
import { librdkafkaSettings, type KafkaConnection } from "../kafka/confluent.ts";
import { oneLine, singleFlight, within } from "./bounded.ts";
import { refusal, type Dependency } from "./dependency.ts";

const describe = (connection: KafkaConnection) => ({ name: "Kafka", setting: "FERRY_KAFKA_BROKERS", address: connection.brokers.join(",") });

/** The client's own key, certificate or CA could not be loaded (librdkafka's and OpenSSL's words). */
const UNUSABLE_KEY_OR_CERTIFICATE = /ssl\.(key|certificate|ca)\.(location|pem)|ssl\.key\.password|PEM lib|bad decrypt/i;

/**
 * librdkafka reports why a broker connection failed only in its log; these are the failures no
 * wait can fix, each with the setting to change.
 */
export function classifyKafkaFailure(detail: string, dependency: Pick<Dependency, "name" | "address">): Error | undefined {
  const refuse = (setting: string, what: string) => refusal(dependency, setting, `${what}: ${detail}`);
  if (/SASL authentication error|Authentication failed/i.test(detail))
    return refuse("FERRY_KAFKA_SASL_USERNAME and FERRY_KAFKA_SASL_PASSWORD", "the login was refused");
  if (/SASL.*mechanism|Unsupported SASL/i.test(detail)) return refuse("FERRY_KAFKA_SASL_MECHANISM", "the SASL mechanism was refused");
  if (/certificate verify failed|could not be verified/i.test(detail)) return refuse("FERRY_KAFKA_SSL_CA_FILE", "the brokers' TLS certificate is not trusted");
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|handshake failure)/i.test(detail)) {
    return refuse("FERRY_KAFKA_SSL_CERT_FILE and FERRY_KAFKA_SSL_KEY_FILE", "the brokers refused the client certificate");
  }
  if (UNUSABLE_KEY_OR_CERTIFICATE.test(detail)) {
    return refuse("FERRY_KAFKA_SSL_CERT_FILE, FERRY_KAFKA_SSL_KEY_FILE and FERRY_KAFKA_SSL_KEY_PASSWORD", "the client certificate or key cannot be used");
  }
  if (/SSL handshake failed/i.test(detail)) return refuse("FERRY_KAFKA_SECURITY_PROTOCOL", "the TLS handshake failed");
  return undefined;
}

/**
 * The cluster as a dependency at start: a fresh client per check (a librdkafka producer, whose
 * polled log tells at once why a broker connection failed; an admin client's log arrives only
 * when its request times out). It fails early on the first refusal, or once every bootstrap
 * broker has failed: one broker down is no reason to wait.
 */
export function kafkaStartDependency(connection: KafkaConnection): Dependency {
  const dependency = describe(connection);
  return {
    ...dependency,
    async check(timeoutMs) {
      let fail: (e: Error) => void = () => undefined;
      const failedEarly = new Promise<never>((_resolve, reject) => (fail = reject));
      failedEarly.catch(() => undefined);
      const down = new Set<string>();
      const details: string[] = [];
      // librdkafka's log level 3: errors only (no secret is ever in them).
      const producer = new RdKafka.Producer({ ...librdkafkaSettings(connection), log_level: 3 } as never);
      producer.on("event.log", (entry: { message?: string }) => {
        const detail = String(entry.message ?? "")
          .replace(/^\[thrd:[^\]]*\]:\s*/, "")
          .replace(/ \(after \d+ms in state \w+.*\)$/, "");
        details.push(detail);
        // Lines of the client itself ("kafka: ...", loading a key) come with the connect error: told then.
        if (!/\/bootstrap:|\/\d+:/.test(detail)) return;
        const refused = classifyKafkaFailure(detail, dependency);
        if (refused) return fail(refused);
        const broker = /^(?:\w+:\/\/)?(\S+?)\/bootstrap:/.exec(detail)?.[1];
        if (broker) down.add(broker);
        if (connection.brokers.every((b) => down.has(b))) fail(new Error(detail));
      });
      producer.setPollInterval(100);
      let connected = false;
      const reached = new Promise<void>((resolve, reject) =>
        producer.connect({ timeout: timeoutMs }, (err) => {
          if (err) return reject(err);
          connected = true;
          resolve();
        }),
      );
      try {
        await within(Promise.race([reached, failedEarly]), timeoutMs + 500);
      } catch (e) {
        if (e instanceof DependencyRefusedError) throw e;
        // A key that cannot be loaded fails the connect at once; OpenSSL's log says why ("maybe wrong
        // password"), in a line the client's poll delivers, possibly just after the error.
        const hint = await keyLoadHint(details, oneLine(e), () => producer.poll());
        const refused = classifyKafkaFailure(hint ? `${oneLine(e)} (${hint.replace(/^kafka: /, "")})` : oneLine(e), dependency);
        if (refused) throw refused;
        // The client's own error ("broker transport failure") says less than the last broker log line.
        throw new Error(details.at(-1) ?? oneLine(e), { cause: e });
      } finally {
        producer.setPollInterval(0);
        if (connected) await new Promise((resolve) => producer.disconnect(5_000, resolve));
        else producer.removeAllListeners("event.log");
      }
    },
  };
}

/** How long a failed key load waits for OpenSSL's log line that says why. */
const KEY_HINT_WAIT_MS = 500;

/** OpenSSL's "maybe wrong password" line, when the connect failed loading the client's key or certificate; polled for a moment if it is not there yet. */
async function keyLoadHint(details: string[], error: string, poll: () => void): Promise<string | undefined> {
  const hint = () => details.find((d) => /maybe wrong password/.test(d));
  if (!UNUSABLE_KEY_OR_CERTIFICATE.test(error)) return hint();
  const deadline = performance.now() + KEY_HINT_WAIT_MS;
  while (hint() === undefined && performance.now() < deadline) {
    poll();
    await Bun.sleep(20);
  }
  return hint();
}

/** The cluster as a dependency while running: the engine's admin client lists topics, one request at a time. */
export function kafkaRunningDependency(connection: KafkaConnection, listTopics: () => Promise<unknown>): Dependency {
  const ask = singleFlight(listTopics);
  return {
    ...describe(connection),
    async check(timeoutMs) {
      await within(ask(), timeoutMs);
    },
  };
}
