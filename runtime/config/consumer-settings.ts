/**
 * The consumer groups' settings (one group per handler): how long a silent member keeps its
 * partitions, how often it says it is alive, and static membership.
 */
import { ConfigError } from "../errors.ts";
import type { Settings } from "./schema.ts";

export interface ConsumerGroupSettings {
  /** A member silent for this long loses its partitions (to the others, after a rebalance). */
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** A member that fetches nothing for this long leaves its groups (Ferry fetches continuously). */
  maxPollIntervalMs: number;
  /**
   * Static membership (KIP-345): the same id in every handler's group (each handler has a group of
   * its own, so one id per worker is unique within each). A member that comes back with its id
   * before its session times out gets its partitions back at once, without a rebalance.
   */
  groupInstanceId?: string;
}

export const consumerSettingNames = [
  "FERRY_KAFKA_SESSION_TIMEOUT_MS",
  "FERRY_KAFKA_HEARTBEAT_INTERVAL_MS",
  "FERRY_KAFKA_MAX_POLL_INTERVAL_MS",
  "FERRY_KAFKA_GROUP_INSTANCE_ID",
] as const;

type ConsumerSettings = Pick<Settings, (typeof consumerSettingNames)[number]>;

/** Each value is checked by the schema; here how they must relate (Kafka's and librdkafka's rules). */
export function loadConsumerGroupSettings(s: ConsumerSettings): ConsumerGroupSettings {
  const session = s.FERRY_KAFKA_SESSION_TIMEOUT_MS;
  const heartbeat = s.FERRY_KAFKA_HEARTBEAT_INTERVAL_MS;
  const maxPoll = s.FERRY_KAFKA_MAX_POLL_INTERVAL_MS;
  const problems: string[] = [];
  if (heartbeat * 3 > session) {
    problems.push(
      `FERRY_KAFKA_HEARTBEAT_INTERVAL_MS=${heartbeat} must be at most a third of FERRY_KAFKA_SESSION_TIMEOUT_MS=${session} (${Math.floor(session / 3)}), so a member misses no more than two heartbeats before its session ends`,
    );
  }
  if (maxPoll < session) {
    problems.push(`FERRY_KAFKA_MAX_POLL_INTERVAL_MS=${maxPoll} must be at least FERRY_KAFKA_SESSION_TIMEOUT_MS=${session} (librdkafka refuses less)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    sessionTimeoutMs: session,
    heartbeatIntervalMs: heartbeat,
    maxPollIntervalMs: maxPoll,
    ...(s.FERRY_KAFKA_GROUP_INSTANCE_ID ? { groupInstanceId: s.FERRY_KAFKA_GROUP_INSTANCE_ID } : {}),
  };
}
