import type { AclBinding } from "./model.ts";

/**
 * The Kafka admin calls the topology commands need, and nothing else. Only
 * topology/platformatic-admin.ts knows which client sits behind it.
 */
export interface TopologyAdmin {
  /** Names of the cluster's topics, internal ones (`__...`) left out. */
  listTopics(): Promise<string[]>;
  /** Partition count and replication factor of existing topics, read fresh (no metadata cache). */
  describeTopics(topics: string[]): Promise<Array<{ name: string; partitions: number; replicationFactor: number }>>;
  /** The current values of the named configs of each topic. */
  describeConfigs(requests: Array<{ topic: string; names: string[] }>): Promise<Map<string, Record<string, string | null>>>;
  /** Every ACL binding of one principal. */
  describeAcls(principal: string): Promise<AclBinding[]>;
  createTopic(topic: { name: string; partitions: number; replicationFactor: number; configs: Record<string, string> }): Promise<void>;
  /** Grows the topic to `count` partitions in total. */
  createPartitions(topic: string, count: number): Promise<void>;
  /** Sets these configs and leaves the topic's other configs as they are (incremental alter). */
  setConfigs(topic: string, configs: Record<string, string>): Promise<void>;
  deleteTopic(topic: string): Promise<void>;
  createAcls(acls: AclBinding[]): Promise<void>;
  deleteAcls(acls: AclBinding[]): Promise<void>;
  close(): Promise<void>;
}
