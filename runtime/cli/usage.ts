export const version = "0.1.0";

export const mainUsage = `ferry ${version} — carries Kafka events to handler plugins, exactly once in effect

Usage: ferry <command> [options]

Getting started:
  dev        Run the real engine on embedded Kafka, PostgreSQL and schema registry: nothing to install
  new        Scaffold a handler with its schema, migration and test (ferry new handler <name>)
  test       bun test with ferry/testing: a handler's events through the real engine, in milliseconds

Commands:
  run        Run the worker: consume the topics of every handler in a directory
  migrate    Apply Ferry's database migrations (and the handlers' own), then exit
  healthcheck  Ask a local worker's /healthz (exit 0 when healthy): for container HEALTHCHECKs
  dlt        Browse dead letters and replay them after a fix (list | replay [--dry-run])
  topology   Plan or apply topics, configs and ACLs from YAML (ferry topology --help)
  schemas    Avro pipeline: build (IDL → .avsc), codegen (→ TypeScript), check, register
  produce    Send JSON lines to a topic as Avro, with event ids and keys (tests, demos, scripts)

Options:
  -h, --help     Show help (also: ferry <command> --help)
  -v, --version  Print the version

Examples:
  ferry dev --handlers ./handlers          then, in another shell: ferry produce --demo
  ferry run --handlers ./handlers
  FERRY_DATABASE_URL=postgres://app@db/app ferry migrate --handlers ./handlers

Exit codes: 0 success · 1 runtime failure · 2 bad command line or configuration
(ferry topology plan: 0 no change · 2 changes to apply · 1 anything else)`;

export const runUsage = `Usage: ferry run --handlers <dir> [options]

Consumes the topics of every handler module in <dir>. Each handler gets its own consumer
group (<group-prefix>.<handler>); effects, inbox and offsets commit in one PostgreSQL
transaction, and the Kafka offset is committed only after it.

Options (each also settable by the environment variable shown):
  --handlers <dir>          FERRY_HANDLERS_DIR            handler modules (required)
  --brokers <list>          FERRY_KAFKA_BROKERS           host:port,... (required)
  --database-url <url>      FERRY_DATABASE_URL            postgres://... (required)
  --group-prefix <name>     FERRY_GROUP_PREFIX            default "ferry"
  --batch-size <n>          FERRY_BATCH_SIZE              events per transaction, default 1000 (less under a memory limit below 225 MB)
  --concurrency <n>         FERRY_PARTITION_CONCURRENCY   partitions processed at once, default 2 per core (2 to 8)
  --log-level <level>       FERRY_LOG_LEVEL               debug|info|warn|error, default info
  --http-port <n>           FERRY_HTTP_PORT               /healthz, /readyz, /metrics, /admin, /api; default 8080 (0: any free port)
  --registry-url <url>      FERRY_SCHEMA_REGISTRY_URL     schema registry, required by handlers with format "avro"
Avro handlers: FERRY_SCHEMA_GATE (fail|not-ready: a reader schema that cannot read a registered
version stops the start, or holds that handler back and /readyz says why), FERRY_SCHEMA_SUBJECT_STRATEGY
(TopicName|RecordName|TopicRecordName), FERRY_SCHEMA_REGISTRY_* (see ferry schemas --help).
Other settings: FERRY_HTTP_HOST (default 127.0.0.1), FERRY_KAFKA_SECURITY_PROTOCOL, FERRY_KAFKA_SASL_MECHANISM, FERRY_KAFKA_SASL_USERNAME,
FERRY_KAFKA_SASL_PASSWORD, FERRY_KAFKA_CLIENT_ID, FERRY_DATABASE_POOL_SIZE, FERRY_EVENT_ID_HEADER,
FERRY_MISSING_EVENT_ID (dead-letter|derive), FERRY_DEAD_LETTER_SUFFIX (default .dlt),
FERRY_CREATE_DEAD_LETTER_TOPICS (true|false), FERRY_DEAD_LETTER_REPLICATION_FACTOR (3),
FERRY_INBOX_RETENTION_HOURS (336: twice Kafka's default topic retention), FERRY_INBOX_PRUNE_INTERVAL_MS,
FERRY_SHUTDOWN_TIMEOUT_MS (30000).
TLS: FERRY_KAFKA_SSL_CA_FILE, FERRY_KAFKA_SSL_CERT_FILE, FERRY_KAFKA_SSL_KEY_FILE, FERRY_KAFKA_SSL_KEY_PASSWORD
(ssl, sasl_ssl); PostgreSQL: sslmode in the URL (verify-full checks the host name) with
FERRY_DATABASE_SSL_CA_FILE, FERRY_DATABASE_SSL_CERT_FILE, FERRY_DATABASE_SSL_KEY_FILE.
Secrets from files: FERRY_KAFKA_SASL_PASSWORD_FILE, FERRY_KAFKA_SSL_KEY_PASSWORD_FILE, FERRY_DATABASE_URL_FILE,
FERRY_ADMIN_TOKEN_FILE, FERRY_SCHEMA_REGISTRY_PASSWORD_FILE (the path of a file holding the value).
Start-up: FERRY_STARTUP_TIMEOUT_MS (300000: how long to wait for PostgreSQL, Kafka and the registry to be
reachable; a wrong password or certificate fails at once). Health: FERRY_HEALTH_CHECK_TIMEOUT_MS (1000: each
dependency check of /readyz), FERRY_HEALTH_CHECK_INTERVAL_MS (5000: the outage watch).
Operating: FERRY_ADMIN_TOKEN (bearer token of the admin API; required unless FERRY_HTTP_HOST is loopback),
FERRY_ADMIN_API (true|false), FERRY_HANDLERS_WATCH (true: add, swap and remove handlers as files change),
FERRY_HANDLER_IMPORT_TIMEOUT_MS (30000: a handler module whose top-level code runs longer is rejected),
FERRY_HANDLER_GATE (fail|not-ready: a handler file that cannot be loaded at start exits 2, or is left out while the others run and /readyz says why),
FERRY_HEALTH_STALL_MS (300000: /healthz fails when a batch runs longer),
FERRY_PARTITION_STALL_MS (60000: a partition with records that has not advanced for this long is reported stalled),
FERRY_MEMORY_TARGET_MB (150, half a memory limit below 300 MB: JavaScript heap size above which a full garbage collection runs, and the memory the engine sizes its collector for; 0: neither),
FERRY_PROGRESS_INTERVAL_MS (30000: a handler:progress line per busy or lagging handler; 0: never).
Consumer groups: FERRY_KAFKA_SESSION_TIMEOUT_MS (10000), FERRY_KAFKA_HEARTBEAT_INTERVAL_MS (1000, at most a
third of the session), FERRY_KAFKA_MAX_POLL_INTERVAL_MS (300000), FERRY_KAFKA_GROUP_INSTANCE_ID (static
membership: a stable name per replica, e.g. the pod name; a restart takes its partitions back at once).
Traces: OpenTelemetry's OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER,
OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf|http/json), ... (see the README); none set: nothing is exported.

SIGTERM or SIGINT drains in-flight batches and exits 0; a second signal exits at once.

Exit codes: 0 drained and stopped · 1 runtime failure, a service still unreachable after
FERRY_STARTUP_TIMEOUT_MS or refusing the connection (password, certificate), or in-flight batches
not drained within FERRY_SHUTDOWN_TIMEOUT_MS · 2 bad command line, configuration, handler or schema gate.

Example:
  FERRY_KAFKA_BROKERS=127.0.0.1:9092 FERRY_DATABASE_URL=postgres://postgres@127.0.0.1/app \\
    ferry run --handlers ./handlers`;

export const testUsage = `Usage: ferry test [bun test arguments]

Runs \`bun test\` (the Bun inside this binary) with the module \`ferry/testing\` served to test
files, as \`ferry\` is served to handlers: no node_modules needed. A test loads a handler and sends
it events; they run through the engine's own code (event ids, decoding, inbox, business keys, the
failure policy, dead letters) on a fresh database with Ferry's and the handler directory's
migrations, and each comes back applied, technical-duplicate, dead-lettered (with reason and
headers) or waiting. Retries wait on a fake clock.

  import { createHarness } from "ferry/testing";
  const h = await createHarness(\`\${import.meta.dir}/invoice-totals.ts\`);
  const [outcome] = await h.send({ eventId: "e-1", value: { id: "t-1", amountCents: 100, occurredAt: 0 } });

Settings: FERRY_TEST_DATABASE_URL (a PostgreSQL server to create each fresh database on; default:
PGlite in memory, in the test process), FERRY_TEST_CACHE_DIR (default $TMPDIR/ferry-testing: the
bundled harness and PGlite's prepared database), and ferry run's FERRY_EVENT_ID_HEADER,
FERRY_MISSING_EVENT_ID, FERRY_DEAD_LETTER_SUFFIX, FERRY_BATCH_SIZE, FERRY_GROUP_PREFIX.

Examples:
  ferry test handlers/
  ferry test handlers/invoice-totals.test.ts --timeout 20000`;

export const migrateUsage = `Usage: ferry migrate [--handlers <dir>] [--database-url <url>]

Applies Ferry's own migrations, then <dir>/migrations/*.sql in name order, under an advisory
lock (replicas starting together do not race). \`ferry run\` does the same at start.

Exit codes: 0 applied (or up to date) · 1 a migration failed or an applied one was changed · 2 bad usage.

Example:
  ferry migrate --handlers ./handlers --database-url postgres://postgres@127.0.0.1/app`;

export const healthcheckUsage = `Usage: ferry healthcheck [--http-port <n>]

Asks http://127.0.0.1:<port>/healthz of a worker on this host and prints its JSON report.
Exit 0 when healthy, 1 otherwise. The port defaults to FERRY_HTTP_PORT (8080).

Example:
  ferry healthcheck --http-port 8080`;

export const topologyUsage = `Usage: ferry topology plan  --file <path>[,<path>...] [--handlers <dir> [--service <name>]] [--json]
       ferry topology apply --file <path>[,<path>...] [--handlers <dir> [--service <name>]] [--allow-delete] [--json]

Topics, their configs and ACLs as code. The files (YAML; a directory means every *.yaml/*.yml in
it) declare topics, services (principal, topics consumed and produced, consumer groups) and extra
ACLs. plan shows the difference with the cluster; apply makes it, then waits until every broker
shows it. Only configs the files declare are compared. Defaults: replication factor 3,
min.insync.replicas=2, 3 partitions.

Scope: a run touches only the declared topics, topics under scope.topicPrefixes (undeclared ones
are deleted, with --allow-delete) and the ACLs of the principals the files name (undeclared ones
are removed). Teams sharing a cluster keep their prefixes and principals disjoint.

Refused, and nothing is applied: fewer partitions, a replication factor change, a cleanup.policy
flip between delete and compact, deletions without --allow-delete. Adding partitions warns: keys
move to other partitions.

Options (each also settable by the environment variable shown):
  -f, --file <paths>        FERRY_TOPOLOGY_FILE           YAML files or directories, comma-separated (required)
  --handlers <dir>          FERRY_HANDLERS_DIR            add what these handlers need: dead letter topics,
                                                          read on topics and groups, write on dead letters
  --service <name>          FERRY_TOPOLOGY_SERVICE        the service (principal) that runs --handlers
                                                          (needed when the files declare several)
  --brokers <list>          FERRY_KAFKA_BROKERS           host:port,... (required)
  --group-prefix <name>     FERRY_GROUP_PREFIX            as for ferry run, default "ferry"
  --json                    FERRY_TOPOLOGY_FORMAT=json    print the plan (or what was applied) as JSON
  --allow-delete            FERRY_TOPOLOGY_ALLOW_DELETE   let apply delete undeclared topics in scope
Connection: FERRY_KAFKA_SECURITY_PROTOCOL, FERRY_KAFKA_SASL_MECHANISM, FERRY_KAFKA_SASL_USERNAME,
FERRY_KAFKA_SASL_PASSWORD[_FILE] (a principal allowed to alter topics, configs and ACLs), FERRY_KAFKA_CLIENT_ID,
FERRY_KAFKA_SSL_CA_FILE, FERRY_KAFKA_SSL_CERT_FILE, FERRY_KAFKA_SSL_KEY_FILE, FERRY_KAFKA_SSL_KEY_PASSWORD[_FILE];
FERRY_DEAD_LETTER_SUFFIX as for ferry run.

Exit codes: plan 0 no change · 2 changes to apply · 1 error (bad file or flags, refused change,
cluster unreachable); apply 0 applied (or nothing to do) · 1 error or refused (nothing applied).

Example:
  FERRY_KAFKA_BROKERS=kafka-1:9092 ferry topology plan --file topology/ --handlers ./handlers`;

export const dltUsage = `Usage: ferry dlt list   --handlers <dir> [--handler <name>] [--event-id <id,...>] [--json]
       ferry dlt replay --handlers <dir> [--handler <name>] (--event-id <id,...> | --all) [--dry-run] [--json]

list    Reads the handler's dead letter topics (<topic>.dlt) and prints each dead letter: event id,
        reason, source topic/partition@offset and the error or the event holding its business key.
replay  Puts the selected dead letters back through the handler's unit of work (inbox, business
        key, effects), once each: a second replay reports already-applied. --dry-run runs each in
        a transaction that is rolled back and reports which would now succeed.

Kafka and the database come from --brokers/FERRY_KAFKA_BROKERS and --database-url/FERRY_DATABASE_URL.
Exit codes: 0 every selected event applied (or would, or already had) · 1 some still fail · 2 bad usage.

Examples:
  ferry dlt list --handlers ./handlers
  ferry dlt replay --handlers ./handlers --event-id 6f1c...,9a2b... --dry-run
  ferry dlt replay --handlers ./handlers --all`;

export const schemasUsage = `Usage: ferry schemas build    [--dir <schemas>] [--check] [--json]
       ferry schemas codegen  [--dir <schemas>] [--check] [--json]
       ferry schemas check    [--dir <schemas>] [--handlers <dir>] [--registry-url <url> | --offline [--level <level>]] [--json]
       ferry schemas register [--dir <schemas>] [--handlers <dir>] --registry-url <url> [--dry-run] [--json]

The Avro schema pipeline over a schemas directory (default ./schemas):
  build     every *.avdl (Avro IDL) → one <record-name>.avsc per event record (a record no other
            type refers to), self-contained; errors name the file and line
  codegen   every *.avsc → <name>.ts: TypeScript types of the decoded values (import type ...)
  check     every schema that changed against its subject's registered versions, under the
            subject's compatibility level; --offline: against history/<name>/<n>.avsc instead,
            under --level (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL,
            FULL_TRANSITIVE, NONE; default BACKWARD)
  register  every bound schema under its subject; idempotent (a registered schema prints its
            version and id); --dry-run registers nothing and reports what would be refused

Subjects: topics.json in the schemas directory binds topics to schema files
({ "orders": "order-placed.avsc" }); the strategy names the subject: TopicName "<topic>-value"
(default), RecordName "<namespace>.<Record>", TopicRecordName "<topic>-<namespace>.<Record>".

Options (each also settable by the environment variable shown):
  --dir <path>                FERRY_SCHEMAS_DIR                 default "schemas"
  --registry-url <url>        FERRY_SCHEMA_REGISTRY_URL         Confluent-compatible registry
  --subject-strategy <name>   FERRY_SCHEMA_SUBJECT_STRATEGY     TopicName|RecordName|TopicRecordName
  --handlers <dir>            FERRY_SCHEMAS_HANDLERS_DIR        also the Avro schemas its handlers publish
                                                                with (\`publishes\`), under <topic>'s subject
  --offline                   FERRY_SCHEMAS_OFFLINE=true        check against history/, no registry
  --level <level>             FERRY_SCHEMA_COMPATIBILITY        level of an offline check
  --dry-run                   FERRY_SCHEMAS_DRY_RUN=true        register nothing
  --check                     FERRY_SCHEMAS_CHECK_ONLY=true     build/codegen: write nothing, fail when stale
  --json                      FERRY_SCHEMAS_FORMAT=json         machine-readable output
Registry connection: FERRY_SCHEMA_REGISTRY_USERNAME/_PASSWORD (basic auth),
FERRY_SCHEMA_REGISTRY_CA_FILE, _CERT_FILE, _KEY_FILE, _TLS_VERIFY=false, _TIMEOUT_MS (10000), _RETRIES (3).

Exit codes: 0 success · 1 incompatible (check), refused (register), stale (--check) or the
registry failed · 2 bad command line, configuration or schema file (the message names file:line).

Example (CI):
  ferry schemas build --check && ferry schemas codegen --check && \\
  ferry schemas check --registry-url $REGISTRY && ferry schemas register --registry-url $REGISTRY`;

export const produceUsage = `Usage: ferry produce --topic <name> --schema <file.avsc> [--key-field <field>] [--input <file>] [options]
       ferry produce --demo [--data-dir <dir>] [--json]

Reads JSON lines (standard input, or --input <file>), checks each value against the schema,
encodes it as Avro in the schema registry's wire format and sends it: event-id header set (the
line's eventId with --envelope, else a random UUID), key set, acks=all with idempotence. Any
invalid line stops the run before it sends (the message names the line and the field).
The schema must be registered under its subject already (ferry schemas register), unless
--auto-register (meant for development).

Options (each also settable by the environment variable shown):
  -t, --topic <name>          FERRY_PRODUCE_TOPIC               (required)
  -s, --schema <file.avsc>    FERRY_PRODUCE_SCHEMA              the value schema (required)
  -k, --key-field <field>     FERRY_PRODUCE_KEY_FIELD           the value's field that becomes the key
  -i, --input <file>          FERRY_PRODUCE_INPUT               default "-": standard input
  --envelope                  FERRY_PRODUCE_ENVELOPE=true       lines are { value, key?, eventId?, headers? }
  --brokers <list>            FERRY_KAFKA_BROKERS               host:port,... (required)
  --registry-url <url>        FERRY_SCHEMA_REGISTRY_URL         (required)
  --subject-strategy <name>   FERRY_SCHEMA_SUBJECT_STRATEGY     TopicName|RecordName|TopicRecordName
  --auto-register             FERRY_PRODUCE_AUTO_REGISTER=true  register the schema when missing
  --json                      FERRY_PRODUCE_FORMAT=json         print a JSON summary
  --demo                      FERRY_PRODUCE_DEMO=true           send the example's demo stream to "orders": 10 new
                                                                orders, 3 redelivered (same event id), 2 placed twice
                                                                (new event id), a poison message and a negative
                                                                total; prints each event and the expected end state
  --data-dir <dir>            FERRY_DEV_DATA_DIR                the ferry dev to send to when --brokers is not given
                                                                (default ./.ferry-dev: it reads dev.json there)
Also: FERRY_EVENT_ID_HEADER (default event-id), FERRY_KAFKA_SECURITY_PROTOCOL and SASL settings,
FERRY_SCHEMA_REGISTRY_* connection settings (see ferry schemas --help).

More than 1000 lines show a progress counter on standard error.

Exit codes: 0 every event sent and acknowledged · 1 an input line is invalid (nothing was sent), the
schema is not registered, or Kafka or the registry failed · 2 bad command line, configuration or schema file.

Examples:
  ferry produce --demo                       # to the ferry dev running in this directory
  echo '{"orderId":"o-1","customerId":"c-9","totalCents":4200,"placedAt":1760000000000}' | \\
    ferry produce --topic orders --schema schemas/order-placed.avsc --key-field orderId`;

export const devUsage = `Usage: ferry dev [--handlers <dir>] [--schemas <dir>] [--data-dir <dir>] [--reset] [--json]

Runs the same engine as 'ferry run' on embedded parts, so nothing needs installing:
  Kafka       librdkafka's mock cluster (3 brokers, in memory, empty at every start); its address
              is printed, so ferry produce, kcat or any Kafka client can connect
  PostgreSQL  PGlite (PostgreSQL in WebAssembly), data kept in <data-dir>/pgdata, served on a
              loopback port (psql works)
  registry    a Confluent-compatible schema registry in memory, fed from <schemas>: each
              topic's history/ versions, then its current schema (topics.json binds them)
The handlers directory is watched: new or changed handler files load without a restart. Where
everything listens is also written to <data-dir>/dev.json, which 'ferry produce --demo' reads.
Not for production: one in-process broker proves no replication or failover, PGlite is one
session. Test against real services (scripts/test.sh) before you trust a change.

Options (each also settable by the environment variable shown):
  --handlers <dir>      FERRY_HANDLERS_DIR        default ./handlers
  --schemas <dir>       FERRY_SCHEMAS_DIR         default ./schemas
  --data-dir <dir>      FERRY_DEV_DATA_DIR        default ./.ferry-dev
  --reset               FERRY_DEV_RESET=true      start from an empty database
  --http-port <n>       FERRY_HTTP_PORT           health, metrics and the admin page, default 8080 (0: any free port)
  --log-level <level>   FERRY_LOG_LEVEL           default warn (JSON lines on standard error)
  --json                FERRY_DEV_FORMAT=json     machine-readable: one JSON object per line on standard output
                                                  (dev:ready with the addresses, dev:tally per batch, dev:handler-*)
Every other 'ferry run' setting applies (FERRY_BATCH_SIZE, FERRY_GROUP_PREFIX, ...).

Exit codes: 0 stopped cleanly · 1 runtime failure or not drained in time · 2 bad command line,
configuration, handler or schema file.

Examples:
  ferry dev                                  # ./handlers, ./schemas, data in ./.ferry-dev
  ferry produce --demo                       # in another shell: watch dedup and dead letters
  ferry dev --reset --http-port 0 --json     # fresh database, any port, for scripts`;

export const newUsage = `Usage: ferry new handler <name> [--topic <topic>] [--event <EventName>] [--handlers <dir>] [--schemas <dir>] [--json]

Scaffolds a handler the way the README recommends, and refuses to overwrite anything:
  <schemas>/<event>.avdl              the event in Avro IDL (fields id, amountCents, occurredAt to edit)
  <schemas>/<event>.avsc, <event>.ts  generated from it (as 'ferry schemas build' and 'codegen' do)
  <schemas>/topics.json               binds <topic> to the schema (its registry subject: <topic>-value)
  <handlers>/<name>.ts                the handler: format avro, business key = id, writes table <name>
  <handlers>/migrations/NNNN_<name>.sql   its table
  <handlers>/<name>.test.ts           a test on the real engine: ferry dev, ferry produce, the table
A running 'ferry dev' loads the new handler and registers its schema without a restart.

Options (each also settable by the environment variable shown):
  -t, --topic <topic>     FERRY_NEW_TOPIC          default: the handler's name
  -e, --event <Name>      FERRY_NEW_EVENT          the event record, PascalCase; default: the name in PascalCase
  --handlers <dir>        FERRY_HANDLERS_DIR       default ./handlers
  --schemas <dir>         FERRY_SCHEMAS_DIR        default ./schemas
  --json                  FERRY_NEW_FORMAT=json    print the files created as JSON

Exit codes: 0 created · 1 failure writing · 2 bad name, or a file or topic binding that exists already.

Example:
  ferry new handler invoice-totals --topic invoices --event InvoiceIssued`;
