"""Every Redis key, lock id, cron name and default of runtally, in one place.

No imports: settings (``runtally.config``), the publisher SDK, ingest, the store and the
scheduler read their names and defaults from here, so a key is spelled once.
"""

from __future__ import annotations

# --- Redis keys
STREAM = "runtally:events"
DEAD_STREAM = "runtally:events:dead"
GROUP = "runtally-ingest"
STATS_KEY = "runtally:stats"
ARQ_QUEUE = "runtally:arq"
BATCH_MARKER_INFIX = ":batch:"  # a publisher batch marker is <stream>:batch:<id>

# --- Postgres advisory locks (hashtext of these names) and arq cron job names
PARTITION_LOCK = "runtally:partitions"
RETENTION_LOCK = "runtally:retention"
REPRICE_LOCK = "runtally:reprice"  # one `runtally reprice` at a time
CRON_ROLL_HOURS = "runtally:roll-hours"
CRON_ROLL_DAYS = "runtally:roll-days"
CRON_PARTITIONS = "runtally:partitions"
CRON_RETENTION = "runtally:retention"
MINUTE_OF_PARTITIONS = 5  # hourly maintenance, away from the top of the hour
MINUTE_OF_RETENTION = 35

# --- defaults
REDIS_URL = "redis://localhost:6379/0"
DATABASE_URL = "postgresql://runtally@localhost:5432/runtally"
PROJECT = "default"
API_HOST = "127.0.0.1"
API_PORT = 8000
REPRICE_BATCH_ROWS = 5000  # raw rows a `runtally reprice` transaction updates at most

# --- alerts and business metrics
CRON_ALERTS = "runtally:alerts"
ALERTS_INTERVAL_S = 60  # how often rules are evaluated
ALERTS_TOP_N = 10  # groups evaluated per grouped rule, unless the rule says otherwise
ALERTS_DELIVERY_TIMEOUT_S = 5.0  # one webhook POST, connect to last byte
ALERTS_DELIVERY_ATTEMPTS = 6  # a notification is given up (status failed) after these
ALERTS_RETRY_BASE_S = 2.0  # back-off: base * 2^(attempt-1), capped at ALERTS_RETRY_MAX_S
ALERTS_RETRY_MAX_S = 300.0
ALERTS_DELIVERY_BUDGET_S = 20.0  # how long one pass keeps retrying due deliveries
ALERTS_DELIVERY_BATCH = 50  # deliveries one pass sends at once (concurrently)
SIGNATURE_HEADER = "X-Runtally-Signature"
SLACK_WEBHOOK_PREFIX = "https://hooks.slack.com/services/"
METRICS_CACHE_S = 5.0  # business metrics are read at most this often
METRICS_MAX_PAIRS = 200  # (agent, model) label pairs per project; the rest are `other`
METRICS_OTHER = "other"

# --- OpenTelemetry intake (POST /v1/traces)
OTEL_TRACE_PREFIX = "runtally:otel:trace:"  # a staged trace: <prefix><project>:<trace id hex>
OTEL_DUE = "runtally:otel:due"  # sorted set: staged trace key -> when it is decided (unix s)
OTEL_VERSION = "runtally:otel:version"  # counter: versions of staged traces, never reused
OTEL_MAX_BODY_BYTES = 16 * 1024 * 1024
OTEL_SETTLE_S = 2.0
OTEL_TRACE_TIMEOUT_S = 300.0
OTEL_TRACE_TTL_S = 86_400
OTEL_SWEEP_INTERVAL_S = 1.0
OTEL_RETRY_AFTER_S = 5

# --- tag rollups and top users/sessions (issue 14)
TAG_KEYS_ALWAYS = ("environment", "release")  # rolled up whatever RUNTALLY_ROLLUP_TAGS says
TAG_OTHER = "__other__"  # the row a bucket's values beyond the cap are folded into
TAG_VALUE_CAP = 1000
TAG_COMBO_MIN_RUNS = 4  # runs per full-key row a bucket's tag combinations must average
TOP_K = 100
# An hourly pass takes a second connection if the pool gives one by then (opening one
# included), else rolls on its own: never an unbounded wait for a second connection.
SPARE_CONNECTION_WAIT_S = 0.5

# --- Postgres sessions
# Every connection prints float8 in its shortest exact form (Postgres 12+; the default,
# made explicit: 0 or less rounds), which a rollup row's generated ``point`` (its JSON,
# migration 0010) relies on for exact answers.
PG_SERVER_SETTINGS = {"extra_float_digits": "1"}
