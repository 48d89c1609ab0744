package dev.ferry.bench.peer;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Orders from Kafka into an `order_totals` projection in PostgreSQL, exactly once in effect: the
 * program written for this one job instead of adopting Ferry.
 *
 * Poll up to max.poll.records; each partition's records of the poll go to a worker thread and
 * are applied in ONE transaction (PartitionWriter); once every partition's transaction has
 * committed, the poll's offsets are committed to Kafka (commitSync). A crash between the two
 * commits replays records the inbox then skips. The next poll waits for the commit, so a
 * partition's records are applied in order.
 */
public final class Peer {
  private static final Logger log = LoggerFactory.getLogger(Peer.class);
  private static final int ATTEMPTS = 5;

  public static void main(String[] args) throws Exception {
    Settings settings;
    try {
      settings = Settings.fromEnv(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("peer: " + e.getMessage());
      System.exit(2);
      return;
    }
    System.exit(new Peer().run(settings));
  }

  private final CountDownLatch stopped = new CountDownLatch(1);

  int run(Settings s) throws Exception {
    try {
      return consume(s);
    } finally {
      stopped.countDown();
    }
  }

  private int consume(Settings s) throws Exception {
    HikariConfig pool = new HikariConfig();
    pool.setJdbcUrl(s.jdbcUrl());
    // One connection per worker: a worker holds one for its transaction, nothing else does.
    pool.setMaximumPoolSize(s.workers());
    pool.setPoolName("peer");
    Properties consumerProps = new Properties();
    consumerProps.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
    consumerProps.put(ConsumerConfig.GROUP_ID_CONFIG, s.groupId());
    consumerProps.put(ConsumerConfig.CLIENT_ID_CONFIG, "ferry-peer");
    consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    consumerProps.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    consumerProps.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, s.maxPollRecords());
    Properties producerProps = new Properties();
    producerProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrapServers());
    producerProps.put(ProducerConfig.CLIENT_ID_CONFIG, "ferry-peer-dlt");
    // Already the defaults since Kafka 3.0; written down because the guarantee depends on them.
    producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
    producerProps.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);

    AtomicBoolean running = new AtomicBoolean(true);
    try (HikariDataSource db = new HikariDataSource(pool);
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps, new ByteArraySerializer(), new ByteArraySerializer())) {
      migrate(db);
      ExecutorService workers = Executors.newFixedThreadPool(s.workers());
      PartitionWriter writer = new PartitionWriter(db, producer, new OrderDecoder(s), s.deadLetterTopic());
      // SIGTERM: finish the poll under way (its transactions and its Kafka commit), then leave.
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        running.set(false);
        try {
          consumer.wakeup();
          stopped.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException | RuntimeException ignored) {
          // The JVM is going down either way.
        }
      }));
      consumer.subscribe(List.of(s.topic()), new ConsumerRebalanceListener() {
        // Nothing is in flight when these run (inside poll, after the last poll's commit): only worth a log line.
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
          log.info("partitions assigned: {}", partitions);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
          log.info("partitions revoked: {}", partitions);
        }
      });
      log.info("peer started: topic {}, group {}, {} workers, max.poll.records {}", s.topic(), s.groupId(), s.workers(), s.maxPollRecords());
      try {
        while (running.get()) {
          ConsumerRecords<byte[], byte[]> records;
          try {
            records = consumer.poll(Duration.ofMillis(500));
          } catch (WakeupException e) {
            break;
          }
          if (records.isEmpty()) continue;
          if (log.isDebugEnabled()) log.debug("poll returned {} records of {} partitions", records.count(), records.partitions().size());
          Map<TopicPartition, OffsetAndMetadata> done = applyAll(workers, writer, records);
          try {
            consumer.commitSync(done);
            log.debug("offsets committed: {}", done);
          } catch (WakeupException e) {
            // Stopping: the database has them; commit them to Kafka too before leaving.
            consumer.commitSync(done);
            break;
          }
        }
        return 0;
      } catch (ExecutionException e) {
        log.error("peer stopped: a partition's batch failed; its offsets are not committed", e.getCause());
        return 1;
      } finally {
        workers.shutdownNow();
      }
    }
  }

  /** Every partition of the poll in its own transaction, concurrently; the offsets to commit once all have. */
  private static Map<TopicPartition, OffsetAndMetadata> applyAll(ExecutorService workers, PartitionWriter writer, ConsumerRecords<byte[], byte[]> records)
      throws InterruptedException, ExecutionException {
    List<Callable<Void>> tasks = new ArrayList<>();
    Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<byte[], byte[]>> part = records.records(tp);
      done.put(tp, new OffsetAndMetadata(part.get(part.size() - 1).offset() + 1));
      tasks.add(() -> {
        withRetries(() -> writer.apply(tp.topic(), tp.partition(), part));
        return null;
      });
    }
    for (Future<Void> f : workers.invokeAll(tasks)) f.get();
    return done;
  }

  interface Unit {
    void run() throws Exception;
  }

  /** A transient failure (connection, deadlock, registry unreachable) runs the whole unit again, with backoff. */
  private static void withRetries(Unit unit) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        unit.run();
        return;
      } catch (Exception e) {
        if (attempt >= ATTEMPTS || !PartitionWriter.transientFailure(e)) throw e;
        long backoffMs = 100L << attempt;
        log.warn("batch failed (attempt {} of {}), retrying in {} ms: {}", attempt, ATTEMPTS, backoffMs, e.toString());
        Thread.sleep(backoffMs);
      }
    }
  }

  /** The job's tables, created when missing (schema.sql). */
  private static void migrate(HikariDataSource db) throws Exception {
    String ddl;
    try (InputStream in = Peer.class.getResourceAsStream("/schema.sql")) {
      if (in == null) throw new IOException("schema.sql is not on the class path");
      ddl = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    try (Connection c = db.getConnection(); Statement st = c.createStatement()) {
      st.execute(ddl);
    }
  }
}
