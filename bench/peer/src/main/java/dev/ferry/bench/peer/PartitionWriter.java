package dev.ferry.bench.peer;

import dev.ferry.bench.peer.OrderDecoder.Order;
import dev.ferry.bench.peer.OrderDecoder.UndecodableException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * One transaction for one partition's records of a poll: inbox rows (technical duplicates, by the
 * event-id header), business keys (functional duplicates, by order id) and the effect rows in ONE
 * statement; then the functional duplicates and undecodable records to the dead letter topic,
 * acknowledged by all in-sync replicas before COMMIT (a dead letter must never be lost behind a
 * committed offset).
 */
final class PartitionWriter {
  /**
   * $1..$6 the batch's fresh-looking events (distinct ids, offset order), $7 topic, $8 partition.
   * The first event of a key among the events new to the inbox claims the key; a claimed key's
   * event writes its effect row. Returned: the events new to the inbox that did not get their
   * key, and who holds it.
   */
  static final String APPLY =
      """
      with batch as (
        select * from unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) with ordinality
          as b(event_id, "offset", order_id, customer_id, total_cents, produced_ms, ord)
      ), fresh as (
        insert into inbox (event_id, topic, partition, "offset")
        select event_id, ?, ?, "offset" from batch
        on conflict (event_id) do nothing
        returning event_id
      ), winners as (
        select distinct on (b.order_id) b.event_id, b.order_id
        from batch b join fresh f on f.event_id = b.event_id
        order by b.order_id, b.ord
      ), claimed as (
        insert into business_keys (order_id, event_id)
        select order_id, event_id from winners
        on conflict (order_id) do nothing
        returning order_id, event_id
      ), applied as (
        insert into order_totals (order_id, customer_id, total_cents, event_id, produced_at)
        select b.order_id, b.customer_id, b.total_cents, b.event_id, to_timestamp(b.produced_ms / 1000.0)
        from claimed c join batch b on b.event_id = c.event_id
      )
      select b.ord, coalesce(c.event_id, k.event_id) as held_by
      from batch b
      join fresh f on f.event_id = b.event_id
      left join claimed c on c.order_id = b.order_id
      left join business_keys k on k.order_id = b.order_id
      where c.event_id is distinct from b.event_id
      """;

  private record Event(ConsumerRecord<byte[], byte[]> record, String id, Order order) {}

  private record DeadLetter(ConsumerRecord<byte[], byte[]> record, String reason, String detail, String heldBy) {}

  private final DataSource db;
  private final Producer<byte[], byte[]> producer;
  private final OrderDecoder decoder;
  private final String deadLetterTopic;

  PartitionWriter(DataSource db, Producer<byte[], byte[]> producer, OrderDecoder decoder, String deadLetterTopic) {
    this.db = db;
    this.producer = producer;
    this.decoder = decoder;
    this.deadLetterTopic = deadLetterTopic;
  }

  /** Applies `records` (one partition, offset order) or throws: then nothing is committed. */
  void apply(String topic, int partition, List<ConsumerRecord<byte[], byte[]>> records) throws Exception {
    // A record re-sent within the same poll is only looked at once: the first copy counts.
    Map<String, Event> events = new LinkedHashMap<>();
    List<DeadLetter> letters = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : records) {
      Header header = r.headers().lastHeader("event-id");
      if (header == null || header.value() == null || header.value().length == 0) {
        letters.add(new DeadLetter(r, "missing-event-id", null, null));
        continue;
      }
      String id = new String(header.value(), StandardCharsets.UTF_8);
      if (events.containsKey(id)) continue;
      try {
        Order order = decoder.decode(r.value());
        if (order.orderId().isEmpty()) letters.add(new DeadLetter(r, "business-key-missing", "orderId is empty", null));
        else events.put(id, new Event(r, id, order));
      } catch (UndecodableException e) {
        letters.add(new DeadLetter(r, "decode-failed", e.getMessage(), null));
      }
    }
    List<Event> batch = new ArrayList<>(events.values());
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try {
        if (!batch.isEmpty()) {
          try (PreparedStatement s = c.prepareStatement(APPLY)) {
            int n = batch.size();
            String[] ids = new String[n], orderIds = new String[n], customerIds = new String[n];
            Long[] offsets = new Long[n], totals = new Long[n], timestamps = new Long[n];
            for (int i = 0; i < n; i++) {
              Event e = batch.get(i);
              ids[i] = e.id();
              offsets[i] = e.record().offset();
              orderIds[i] = e.order().orderId();
              customerIds[i] = e.order().customerId();
              totals[i] = e.order().totalCents();
              timestamps[i] = e.record().timestamp();
            }
            s.setArray(1, c.createArrayOf("text", ids));
            s.setArray(2, c.createArrayOf("bigint", offsets));
            s.setArray(3, c.createArrayOf("text", orderIds));
            s.setArray(4, c.createArrayOf("text", customerIds));
            s.setArray(5, c.createArrayOf("bigint", totals));
            s.setArray(6, c.createArrayOf("bigint", timestamps));
            s.setString(7, topic);
            s.setInt(8, partition);
            try (ResultSet rs = s.executeQuery()) {
              while (rs.next()) {
                Event e = batch.get(rs.getInt(1) - 1);
                letters.add(new DeadLetter(e.record(), "functional-duplicate", "order " + e.order().orderId() + " already placed", rs.getString(2)));
              }
            }
          }
        }
        sendAndAwait(letters);
        c.commit();
      } catch (Exception e) {
        rollbackQuietly(c, e);
        throw e;
      }
    }
  }

  /** Every dead letter sent, then every acknowledgement awaited (acks=all). */
  private void sendAndAwait(List<DeadLetter> letters) throws InterruptedException, ExecutionException {
    List<Future<RecordMetadata>> acks = new ArrayList<>(letters.size());
    for (DeadLetter l : letters) acks.add(producer.send(deadLetter(l)));
    for (Future<RecordMetadata> ack : acks) ack.get();
  }

  private ProducerRecord<byte[], byte[]> deadLetter(DeadLetter l) {
    ConsumerRecord<byte[], byte[]> r = l.record();
    Headers headers = new RecordHeaders(r.headers().toArray());
    headers.add("dead-letter-reason", utf8(l.reason()));
    headers.add("source-topic", utf8(r.topic()));
    headers.add("source-partition", utf8(Integer.toString(r.partition())));
    headers.add("source-offset", utf8(Long.toString(r.offset())));
    if (l.heldBy() != null) headers.add("held-by-event-id", utf8(l.heldBy()));
    if (l.detail() != null) headers.add("dead-letter-detail", utf8(l.detail().length() > 2000 ? l.detail().substring(0, 2000) : l.detail()));
    return new ProducerRecord<>(deadLetterTopic, null, r.key(), r.value(), headers);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  /** Worth trying the whole unit again: the connection, a serialization failure or deadlock, the server going away. */
  static boolean transientFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof OrderDecoder.RegistryUnavailableException) return true;
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        if (state.startsWith("08") || state.equals("40001") || state.equals("40P01") || state.startsWith("57P") || state.equals("53300")) return true;
      }
    }
    return false;
  }
}
