package dev.ferry.bench.peer;

import java.util.Map;

/** Everything the peer is told, from environment variables (the way it would be deployed). */
record Settings(
    String bootstrapServers,
    String topic,
    String deadLetterTopic,
    String groupId,
    String jdbcUrl,
    String format,
    String registryUrl,
    String readerSchemaFile,
    int workers,
    int maxPollRecords) {

  static Settings fromEnv(Map<String, String> env) {
    String topic = required(env, "PEER_TOPIC");
    String format = env.getOrDefault("PEER_FORMAT", "avro");
    if (!format.equals("avro") && !format.equals("json")) throw new IllegalArgumentException("PEER_FORMAT must be avro or json, got " + format);
    boolean avro = format.equals("avro");
    return new Settings(
        required(env, "PEER_BOOTSTRAP_SERVERS"),
        topic,
        env.getOrDefault("PEER_DEAD_LETTER_TOPIC", topic + ".dlt"),
        required(env, "PEER_GROUP_ID"),
        required(env, "PEER_JDBC_URL"),
        format,
        avro ? required(env, "PEER_SCHEMA_REGISTRY_URL") : null,
        avro ? required(env, "PEER_READER_SCHEMA") : null,
        positive(env, "PEER_WORKERS", 4),
        positive(env, "PEER_MAX_POLL_RECORDS", 4000));
  }

  private static String required(Map<String, String> env, String name) {
    String value = env.get(name);
    if (value == null || value.isBlank()) throw new IllegalArgumentException(name + " is not set");
    return value;
  }

  private static int positive(Map<String, String> env, String name, int fallback) {
    String value = env.get(name);
    if (value == null) return fallback;
    int n = Integer.parseInt(value);
    if (n < 1) throw new IllegalArgumentException(name + " must be at least 1, got " + value);
    return n;
  }
}
