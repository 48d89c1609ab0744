/**
 * Subject name strategies, as Confluent's serializers name them. TopicName (the default): one
 * schema lineage per topic. RecordName: per record type, across topics. TopicRecordName: per
 * record type within a topic (several event types on one topic, each evolving on its own).
 */
export const subjectStrategies = ["TopicName", "RecordName", "TopicRecordName"] as const;
export type SubjectStrategy = (typeof subjectStrategies)[number];

/** The subject of a topic's values written with a record of full name `recordName`. */
export function subjectName(strategy: SubjectStrategy, topic: string, recordName: string | undefined, part: "value" | "key" = "value"): string {
  if (strategy === "TopicName") return `${topic}-${part}`;
  if (!recordName) throw new Error(`the ${strategy} strategy needs a named schema (record, enum or fixed) for topic ${topic}`);
  return strategy === "RecordName" ? recordName : `${topic}-${recordName}`;
}
