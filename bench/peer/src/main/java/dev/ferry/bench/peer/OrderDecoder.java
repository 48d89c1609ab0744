package dev.ferry.bench.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.AvroRuntimeException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Turns a record value into the three fields the job needs. Avro values are in the schema
 * registry's wire format (magic byte 0, 4-byte schema id, Avro binary): the writer schema is
 * fetched by id from the registry's Confluent-compatible API once per id and cached, and the
 * value is resolved into the reader schema the job was written against. JSON values are parsed
 * with Jackson. Thread-safe: the workers share one instance.
 */
final class OrderDecoder {
  record Order(String orderId, String customerId, long totalCents) {}

  /** The value cannot be decoded: the record goes to the dead letter topic. */
  static final class UndecodableException extends Exception {
    UndecodableException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The registry could not be asked: not the record's fault, the batch is retried. */
  static final class RegistryUnavailableException extends IOException {
    RegistryUnavailableException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final boolean avro;
  private final String registryUrl;
  private final Schema readerSchema;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final ConcurrentHashMap<Integer, GenericDatumReader<GenericRecord>> readers = new ConcurrentHashMap<>();
  /** Schema ids the registry answered 404 for: every record naming one is undecodable. */
  private final ConcurrentHashMap<Integer, String> unknownIds = new ConcurrentHashMap<>();
  private final ThreadLocal<BinaryDecoder> decoders = new ThreadLocal<>();

  OrderDecoder(Settings settings) throws IOException {
    avro = settings.format().equals("avro");
    registryUrl = avro ? settings.registryUrl().replaceAll("/+$", "") : null;
    readerSchema = avro ? new Schema.Parser().parse(Files.readString(Path.of(settings.readerSchemaFile()))) : null;
  }

  Order decode(byte[] value) throws UndecodableException, RegistryUnavailableException {
    if (value == null || value.length == 0) throw new UndecodableException("empty value", null);
    return avro ? decodeAvro(value) : decodeJson(value);
  }

  private Order decodeAvro(byte[] value) throws UndecodableException, RegistryUnavailableException {
    if (value.length < 5 || value[0] != 0) throw new UndecodableException("not in the registry wire format (magic byte)", null);
    int schemaId = ByteBuffer.wrap(value, 1, 4).getInt();
    GenericDatumReader<GenericRecord> reader = readerFor(schemaId);
    try {
      BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, decoders.get());
      decoders.set(decoder);
      GenericRecord record = reader.read(null, decoder);
      return new Order(record.get("orderId").toString(), record.get("customerId").toString(), (Long) record.get("totalCents"));
    } catch (IOException | AvroRuntimeException | ClassCastException | NullPointerException e) {
      throw new UndecodableException("Avro value of schema " + schemaId + " does not decode: " + e, e);
    }
  }

  private GenericDatumReader<GenericRecord> readerFor(int schemaId) throws UndecodableException, RegistryUnavailableException {
    GenericDatumReader<GenericRecord> cached = readers.get(schemaId);
    if (cached != null) return cached;
    String unknown = unknownIds.get(schemaId);
    if (unknown != null) throw new UndecodableException(unknown, null);
    HttpRequest request = HttpRequest.newBuilder(URI.create(registryUrl + "/schemas/ids/" + schemaId)).timeout(Duration.ofSeconds(10)).GET().build();
    HttpResponse<String> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new RegistryUnavailableException("schema registry: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RegistryUnavailableException("interrupted while asking the schema registry", e);
    }
    if (response.statusCode() == 404) {
      String message = "schema id " + schemaId + " is unknown to the registry";
      unknownIds.put(schemaId, message);
      throw new UndecodableException(message, null);
    }
    if (response.statusCode() != 200) throw new RegistryUnavailableException("schema registry answered " + response.statusCode() + " for schema " + schemaId, null);
    Schema writer;
    try {
      writer = new Schema.Parser().parse(JSON.readTree(response.body()).get("schema").asText());
    } catch (IOException | RuntimeException e) {
      throw new UndecodableException("schema " + schemaId + " from the registry does not parse: " + e, e);
    }
    return readers.computeIfAbsent(schemaId, id -> new GenericDatumReader<>(writer, readerSchema));
  }

  private static Order decodeJson(byte[] value) throws UndecodableException {
    try {
      JsonNode node = JSON.readTree(value);
      JsonNode orderId = node.get("orderId");
      JsonNode customerId = node.get("customerId");
      JsonNode totalCents = node.get("totalCents");
      if (orderId == null || !orderId.isTextual() || customerId == null || !customerId.isTextual() || totalCents == null || !totalCents.canConvertToLong())
        throw new UndecodableException("JSON value lacks orderId, customerId or totalCents", null);
      return new Order(orderId.asText(), customerId.asText(), totalCents.asLong());
    } catch (IOException e) {
      throw new UndecodableException("not JSON: " + e.getMessage(), e);
    }
  }
}
