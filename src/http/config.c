/*
 * config.c - the server's configuration: the table of serve's options (flag, variable,
 * default, bounds, help, field) that the command line parses, --help prints and README's
 * table is generated from, and the check every configuration passes before the server
 * starts. A new option is one entry here plus its field in tq_server_config.
 */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tenantql/jwt.h"
#include "tenantql/password.h"
#include "tenantql/pgconn.h"
#include "tenantql/ratelimit.h"
#include "tenantql/quota.h"
#include "tenantql/server.h"
#include "tenantql/trace.h"

#define CFG(member) TQ_OPT_FIELD(tq_server_config, member)
#define DAY_MS (86400L * 1000)

static long long cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL}; /* tq_log_level's order */
static const char *const access_log_formats[] = {"json", "text", "off", NULL}; /* TQ_ACCESS_LOG_*'s order */
static const char *const limit_modes[] = {"enforce", "measure", NULL};            /* tq_limits_mode's order */

/* TQ_OPTF_RELOAD: what a SIGHUP applies to the running server (README's "Configuration file
 * and reload"): the token keys, the budget's limits, the tenants' default quotas, CORS and
 * the log level. Everything else is read once at start-up. */
#define RELOAD TQ_OPTF_RELOAD

const tq_opt tq_server_options[] = {
    {CFG(config_file), .name = "config", .env = "TENANTQL_CONFIG", .type = TQ_OPT_STRING, .metavar = "FILE",
     .help = "options from a file, `name = value` a line (see [Configuration file and reload](#configuration-file-and-"
             "reload)); a flag beats a variable beats the file; `SIGHUP` reads it again"},
    {CFG(listen), .name = "listen", .env = "TENANTQL_LISTEN", .type = TQ_OPT_STRING, .metavar = "HOST:PORT",
     .def_str = "127.0.0.1:8080", .help = "address"},
    {CFG(admin_listen), .name = "admin-listen", .env = "TENANTQL_ADMIN_LISTEN", .type = TQ_OPT_STRING,
     .metavar = "HOST:PORT", .def_str = "127.0.0.1:9090",
     .help = "the admin API, `/metrics`, `/healthz` and `/readyz` (see [Admin API](#admin-api)); `off`: none"},
    {CFG(metrics_tenants), .name = "metrics-tenants", .env = "TENANTQL_METRICS_TENANTS", .type = TQ_OPT_INT,
     .metavar = "N", .def = 20, .min = 1, .max = 10000,
     .help = "the busiest N tenants get `/metrics` request series of their own, the rest share `tenant=\"other\"`"},
    /* traces: README's "Traces" says what is recorded and why these defaults */
    {CFG(otlp_endpoint), .name = "otlp-endpoint", .env = "TENANTQL_OTLP_ENDPOINT", .type = TQ_OPT_STRING,
     .metavar = "URL", .default_doc = "— (none: no traces)",
     .help = "export traces to this OpenTelemetry collector, OTLP over HTTP with JSON (`http://HOST:PORT/v1/traces`; "
             "no TLS); see [Traces](#traces)"},
    {CFG(trace_sample), .name = "trace-sample", .env = "TENANTQL_TRACE_SAMPLE", .type = TQ_OPT_STRING,
     .metavar = "RATIO", .def_str = "0.01",
     .help = "share of new traces recorded, 0 to 1; a request's `traceparent` decides for its own trace "
             "(parent-based)"},
    {CFG(trace_sql_comment), .name = "trace-sql-comment", .env = "TENANTQL_TRACE_SQL_COMMENT", .type = TQ_OPT_ONOFF,
     .def = 1,
     .help = "a recorded request's statements carry its `traceparent` as an SQL comment (and so run unprepared)"},
    {CFG(cors_origins), .name = "cors-origins", .env = "TENANTQL_CORS_ORIGINS", .type = TQ_OPT_STRING,
     .metavar = "ORIGINS", .default_doc = "— (none: no cross-origin browser reads)", .flags = RELOAD,
     .help = "origins allowed to call `/graphql` from a browser (`https://app.example,http://localhost:3000`; `*`: "
             "any, without credentials); see [CORS and security headers](#cors-and-security-headers)"},
    {CFG(cors_credentials), .name = "cors-credentials", .env = "TENANTQL_CORS_CREDENTIALS", .type = TQ_OPT_ONOFF,
     .def = 0, .flags = RELOAD,
     .help = "let those origins send cookies and HTTP authentication (`Access-Control-Allow-Credentials`)"},
    {CFG(cors_max_age_s), .name = "cors-max-age-s", .env = "TENANTQL_CORS_MAX_AGE_S", .type = TQ_OPT_INT,
     .metavar = "SECONDS", .def = 600, .min = 0, .max = 86400, .flags = RELOAD,
     .help = "how long a browser may reuse a preflight's answer"},
    {CFG(admin_threads), .name = "admin-threads", .env = "TENANTQL_ADMIN_THREADS", .type = TQ_OPT_INT, .metavar = "N",
     .def = 2, .min = 1, .max = 16,
     .help = "threads for the admin API's database work (creating, exporting, dropping tenants)"},
    {CFG(export_dir), .name = "export-dir", .env = "TENANTQL_EXPORT_DIR", .type = TQ_OPT_STRING, .metavar = "DIR",
     .def_str = "exports", .help = "where offboarding writes each tenant's `pg_dump` archive"},
    {CFG(offboard_grace_s), .name = "offboard-grace-s", .env = "TENANTQL_OFFBOARD_GRACE_S", .type = TQ_OPT_INT,
     .metavar = "SECONDS", .def = 7 * 86400, .min = 0, .max = 366L * 86400,
     .help = "an offboarded tenant's database or schema is dropped this long after its export"},
    {CFG(threads), .name = "threads", .env = "TENANTQL_THREADS", .type = TQ_OPT_INT, .metavar = "N",
     .compute_default = cores, .default_doc = "cores", .min = 1, .max = 256,
     .help = "worker threads (each its own loop and SO_REUSEPORT listener)"},
    {CFG(registry), .name = "registry", .env = "TENANTQL_REGISTRY", .type = TQ_OPT_STRING, .metavar = "CONNINFO",
     .default_doc = "— (required; `dev` sets it)", .help = "libpq conninfo/URI of the registry"},
    {CFG(jwt_secret), .name = "jwt-secret", .env = "TENANTQL_JWT_SECRET", .type = TQ_OPT_STRING, .metavar = "SECRET",
     .default_doc = "— (≥ 32 bytes; `dev` keeps one in `.tenantql/jwt-secret` unless another key is configured)",
     .flags = RELOAD | TQ_OPTF_SECRET, .help = "one HS256 key, no kid"},
    {CFG(jwt_alg), .name = "jwt-alg", .env = "TENANTQL_JWT_ALG", .type = TQ_OPT_STRING, .metavar = "ALG",
     .default_doc = "`HS256`", .flags = RELOAD,
     .help = "`HS256` (with `--jwt-secret`), `RS256` or `ES256` (with `--jwt-public-key`)"},
    {CFG(jwt_public_key), .name = "jwt-public-key", .env = "TENANTQL_JWT_PUBLIC_KEY", .type = TQ_OPT_STRING,
     .metavar = "FILE", .flags = RELOAD,
     .help = "PEM public key (`BEGIN PUBLIC KEY`) or certificate: the one RS256/ES256 verification key, no kid"},
    {CFG(jwt_private_key), .name = "jwt-private-key", .env = "TENANTQL_JWT_PRIVATE_KEY", .type = TQ_OPT_STRING,
     .metavar = "FILE", .flags = RELOAD,
     .help = "its unencrypted PEM private key; only needed to issue tokens (`login`, `dev`'s banner)"},
    {CFG(jwt_keys), .name = "jwt-keys", .env = "TENANTQL_JWT_KEYS", .type = TQ_OPT_STRING, .metavar = "FILE",
     .flags = RELOAD,
     .help = "JSON key set with kids, for rotation (see [Tokens](#tokens)); replaces the four options above"},
    {CFG(jwt_issuer), .name = "jwt-issuer", .env = "TENANTQL_JWT_ISSUER", .type = TQ_OPT_STRING, .metavar = "ISS",
     .def_str = TQ_JWT_DEFAULT_ISSUER, .flags = RELOAD,
     .help = "required `iss`, also written into issued tokens (empty: not checked)"},
    {CFG(jwt_audience), .name = "jwt-audience", .env = "TENANTQL_JWT_AUDIENCE", .type = TQ_OPT_STRING, .metavar = "AUD",
     .default_doc = "— (not checked)", .flags = RELOAD,
     .help = "required in `aud` (a string or an array of strings), also written into issued tokens"},
    {CFG(jwt_leeway), .name = "jwt-leeway", .env = "TENANTQL_JWT_LEEWAY", .type = TQ_OPT_INT, .metavar = "SECONDS",
     .def = TQ_JWT_DEFAULT_LEEWAY, .min = 0, .max = TQ_JWT_MAX_LEEWAY, .flags = RELOAD,
     .help = "clock skew allowed for `exp`, `nbf` and `iat`"},
    {CFG(token_ttl), .name = "token-ttl", .env = "TENANTQL_TOKEN_TTL", .type = TQ_OPT_INT, .metavar = "SECONDS",
     .def = 3600, .min = 1, .max = 31 * 86400, .flags = RELOAD,
     .help = "lifetime (`exp` − `iat`) of the tokens the server issues"},
    {CFG(trust_tenant_header), .name = "trust-tenant-header", .env = "TENANTQL_TRUST_TENANT_HEADER",
     .type = TQ_OPT_FLAG, .def = 0,
     .help = "`X-Tenant-ID: <name or id>` selects a tenant without a token — **local benchmarks only** (logged "
             "loudly)"},
    {CFG(max_body_bytes), .name = "max-body", .env = "TENANTQL_MAX_BODY", .type = TQ_OPT_BYTES, .metavar = "BYTES",
     .def = 1024 * 1024, .min = 1024, .max = LONG_MAX, .help = "larger bodies get 413"},
    {CFG(request_timeout_ms), .name = "request-timeout-ms", .env = "TENANTQL_REQUEST_TIMEOUT_MS", .type = TQ_OPT_INT,
     .metavar = "MS", .def = 30000, .min = 1, .max = DAY_MS, .help = "a request still running is answered 503"},
    {CFG(drain_timeout_ms), .name = "drain-timeout-ms", .env = "TENANTQL_DRAIN_TIMEOUT_MS", .type = TQ_OPT_INT,
     .metavar = "MS", .def = 10000, .min = 0, .max = DAY_MS, .help = "on SIGTERM/SIGINT, wait for requests in flight"},
    /* a move pauses a tenant for about 2 s plus its second copy; README's "Moving a tenant" */
    {CFG(pause_max_wait_ms), .name = "pause-max-wait-ms", .env = "TENANTQL_PAUSE_MAX_WAIT_MS", .type = TQ_OPT_INT,
     .metavar = "MS", .def = 10000, .min = 0, .max = 600000,
     .help = "a request of a paused tenant (`tenant pause`, `tenant move`) waits this long for the pause to end, "
             "then gets 503 `TENANT_UNAVAILABLE` (0: at once; see [Moving a tenant](#moving-a-tenant))"},
    {CFG(max_connections), .name = "max-connections", .env = "TENANTQL_MAX_CONNECTIONS", .type = TQ_OPT_INT,
     .metavar = "N", .def = 100, .min = 0, .max = 100000,
     .help = "connections to tenant databases across all tenants (0: no cap); keep it below PostgreSQL's "
             "`max_connections`"},
    {CFG(cluster_max_connections), .name = "cluster-max-connections", .env = "TENANTQL_CLUSTER_MAX_CONNECTIONS",
     .type = TQ_OPT_INT, .metavar = "N", .def = 0, .min = 0, .max = 100000,
     .help = "one cap on tenant connections for all the processes sharing the registry, split among the live ones "
             "and replacing `--max-connections`; also splits tenant quotas and the login limit (0: off; see "
             "[Several processes](#several-processes))"},
    {CFG(cluster_timeout_ms), .name = "cluster-timeout-ms", .env = "TENANTQL_CLUSTER_TIMEOUT_MS", .type = TQ_OPT_INT,
     .metavar = "MS", .def = 3000, .min = 300, .max = 600000,
     .help = "with `--cluster-max-connections`: a process whose last heartbeat (every third of this) is older is "
             "taken for dead and its share goes to the others"},
    {CFG(shared_db_max), .name = "shared-db-max", .env = "TENANTQL_SHARED_DB_MAX", .type = TQ_OPT_INT,
     .metavar = "N", .def = 20, .min = 1, .max = 100000,
     .help = "connections to one shared database, across the tenants placed in its schemas (each tenant holds at "
             "most its `pool_options.max` of them at once; see [Tenant placement](#tenant-placement))"},
    {CFG(statement_cache), .name = "statement-cache", .env = "TENANTQL_STATEMENT_CACHE", .type = TQ_OPT_INT,
     .metavar = "N", .def = TQ_PGCONN_STATEMENT_CACHE_DEFAULT, .min = 0, .max = 100000,
     .help = "prepared statements kept per database connection (least recently used go, with DEALLOCATE); a "
             "statement is prepared on its second use on a connection; 0: never prepare (unnamed statements, e.g. "
             "behind PgBouncer in transaction mode)"},
    {CFG(max_client_connections), .name = "max-client-connections", .env = "TENANTQL_MAX_CLIENT_CONNECTIONS",
     .type = TQ_OPT_INT, .metavar = "N", .def = 0, .min = 0, .max = 10000000,
     .default_doc = "0: derived from the descriptor limit",
     .help = "open client (HTTP) connections across all threads; at the cap a new connection replaces one that has "
             "waited a second or more for a request, or is closed at once (see [Operations](#operations))"},
    {CFG(doc_cache_entries), .name = "doc-cache-entries", .env = "TENANTQL_DOC_CACHE_ENTRIES", .type = TQ_OPT_INT,
     .metavar = "N", .def = 512, .min = 0, .max = 1000000,
     .help = "parsed and validated documents remembered per worker thread (exact query text; at most 8 MiB per "
             "worker; 0: none)"},
    {CFG(tenant_sslmode), .name = "tenant-sslmode", .env = "TENANTQL_TENANT_SSLMODE", .type = TQ_OPT_STRING,
     .metavar = "MODE", .def_str = "prefer", .help = "libpq sslmode for tenant databases"},
    {CFG(registry_refresh_ms), .name = "registry-refresh-ms", .env = "TENANTQL_REGISTRY_REFRESH_MS", .type = TQ_OPT_INT,
     .metavar = "MS", .def = 30000, .min = 100, .max = DAY_MS,
     .help = "full re-read of the registry besides LISTEN/NOTIFY"},
    {CFG(secrets_key_file), .name = "secrets-key-file", .env = "TENANTQL_SECRETS_KEY_FILE", .type = TQ_OPT_STRING,
     .metavar = "FILE", .default_doc = "— (the keys in `TENANTQL_SECRETS_KEY`, else none)",
     .help = "key ring that opens sealed tenant database passwords: keys of 32 bytes, 64 hex digits or base64 each, "
             "one a line, the first seals (see [Secrets](#secrets))"},
    {CFG(log_level), .name = "log-level", .env = "TENANTQL_LOG_LEVEL", .type = TQ_OPT_CHOICE, .metavar = "LEVEL",
     .choices = log_levels, .def = TQ_LOG_INFO, .flags = RELOAD, .help = "the least severe messages logged"},
    /* 10 a reason per 10 s: a flood leaves 60 lines a minute per reason, each with a request id */
    {CFG(log_rate_limit), .name = "log-rate-limit", .env = "TENANTQL_LOG_RATE_LIMIT", .type = TQ_OPT_INT,
     .metavar = "N", .def = TQ_LOG_LIMIT_DEFAULT_LINES, .min = 0, .max = 1000000,
     .help = "lines a client can cause (refused tokens, tenants and logins, failed queries) written per reason per "
             "10 s; the rest are counted in one \"N similar line(s) suppressed\" line (0: no limit)"},
    {CFG(access_log), .name = "access-log", .env = "TENANTQL_ACCESS_LOG", .type = TQ_OPT_CHOICE, .metavar = "FORMAT",
     .choices = access_log_formats, .def = TQ_ACCESS_LOG_JSON,
     .help = "a line per `/graphql` request: `json` (one object a line, see [Access log](#access-log)), `text` (for a "
             "terminal) or `off`"},
    {CFG(access_log_file), .name = "access-log-file", .env = "TENANTQL_ACCESS_LOG_FILE", .type = TQ_OPT_STRING,
     .metavar = "FILE", .def_str = "-",
     .help = "where access log lines are appended (`-`: standard output); written by a thread of their own, lines that "
             "find its 4 MiB buffer full are dropped and counted, never waited for"},
    {CFG(introspection), .name = "introspection", .env = "TENANTQL_INTROSPECTION", .type = TQ_OPT_ONOFF, .def = 1,
     .help = "off: a query selecting `__schema` or `__type` gets a `BAD_USER_INPUT` error and no data (`__typename` "
             "still works)"},
    {CFG(graphiql), .name = "graphiql", .env = "TENANTQL_GRAPHIQL", .type = TQ_OPT_ONOFF, .def = 1,
     .help = "serve GraphiQL to browsers at `/` and `/graphql` (off: no HTML at all; GraphQL clients see no "
             "difference either way)"},
    {CFG(hash_threads), .name = "hash-threads", .env = "TENANTQL_HASH_THREADS", .type = TQ_OPT_INT, .metavar = "N",
     .def = TQ_PASSWORD_DEFAULT_THREADS, .min = 1, .max = TQ_PASSWORD_MAX_THREADS,
     .help = "password hashing threads, off the event loops; each running hash takes `--hash-memlimit`"},
    /* the hashing bounds are password.c's */
    {CFG(hash_opslimit), .name = "hash-opslimit", .env = "TENANTQL_HASH_OPSLIMIT", .type = TQ_OPT_INT, .metavar = "N",
     .def = crypto_pwhash_OPSLIMIT_INTERACTIVE, .min = crypto_pwhash_OPSLIMIT_MIN, .max = 100,
     .help = "Argon2id passes for new hashes (libsodium's `OPSLIMIT_INTERACTIVE`)"},
    {CFG(hash_memlimit), .name = "hash-memlimit", .env = "TENANTQL_HASH_MEMLIMIT", .type = TQ_OPT_BYTES,
     .metavar = "BYTES", .def = crypto_pwhash_MEMLIMIT_INTERACTIVE, .min = crypto_pwhash_MEMLIMIT_MIN, .max = 4LL << 30,
     .help = "Argon2id memory for new hashes (`MEMLIMIT_INTERACTIVE`, 64 MiB)"},
    /* the contract allows at least 5 attempts per email per minute */
    {CFG(login_rate_limit), .name = "login-rate-limit", .env = "TENANTQL_LOGIN_RATE_LIMIT", .type = TQ_OPT_INT,
     .metavar = "N", .def = 10, .min = 5, .max = 1000000, .flags = TQ_OPTF_ZERO_OFF,
     .help = "`login` attempts per tenant and email per window"},
    {CFG(login_rate_window_s), .name = "login-rate-window-s", .env = "TENANTQL_LOGIN_RATE_WINDOW_S", .type = TQ_OPT_INT,
     .metavar = "S", .def = 60, .min = 1, .max = 60, .help = "that window, in seconds"},
    /* 16,384 x 32 bytes: 512 KiB. Only hashed attempts count, and the hashing threads do some
     * tens per second, so an attacker cannot fill it within a window at the default cost */
    {CFG(login_rate_keys), .name = "login-rate-keys", .env = "TENANTQL_LOGIN_RATE_KEYS", .type = TQ_OPT_INT,
     .metavar = "N", .def = 16384, .min = TQ_RATELIMIT_MIN_KEYS, .max = 16777216,
     .help = "tenant+email pairs the login limit remembers; when full, new pairs are refused until a window "
             "ends (live ones are never forgotten)"},
    /* the budget: README's "Limits" says why these defaults */
    {CFG(limits), .name = "limits", .env = "TENANTQL_LIMITS", .type = TQ_OPT_CHOICE, .metavar = "MODE",
     .choices = limit_modes, .def = TQ_LIMITS_ENFORCE, .flags = RELOAD,
     .help = "`enforce`: an operation over a `--max-*` limit below gets `QUERY_TOO_COMPLEX` and does not run; "
             "`measure`: it runs, and what it exceeds is logged and counted (see [Limits](#limits))"},
    {CFG(max_depth), .name = "max-depth", .env = "TENANTQL_MAX_DEPTH", .type = TQ_OPT_INT, .metavar = "N", .def = 15,
     .min = 1, .max = 1000000, .flags = RELOAD,
     .help = "field nesting of an operation, fragments expanded (GraphiQL's introspection query: 15)"},
    {CFG(max_fields), .name = "max-fields", .env = "TENANTQL_MAX_FIELDS", .type = TQ_OPT_INT, .metavar = "N",
     .def = 1000, .min = 1, .max = 1000000000, .flags = RELOAD,
     .help = "field selections of an operation, fragments expanded"},
    {CFG(max_aliases), .name = "max-aliases", .env = "TENANTQL_MAX_ALIASES", .type = TQ_OPT_INT, .metavar = "N",
     .def = 30, .min = 0, .max = 1000000000, .flags = RELOAD,
     .help = "aliased field selections of an operation, fragments expanded"},
    {CFG(max_cost), .name = "max-cost", .env = "TENANTQL_MAX_COST", .type = TQ_OPT_INT, .metavar = "N", .def = 100000,
     .min = 1, .max = 1000000000000000LL, .flags = RELOAD,
     .help = "1 per field, and a list field's selections times the items it can return (`first`, the `ids` of "
             "`nodes`, introspection's real sizes)"},
    {CFG(max_response_bytes), .name = "max-response-bytes", .env = "TENANTQL_MAX_RESPONSE_BYTES", .type = TQ_OPT_BYTES,
     .metavar = "BYTES", .def = 4 * 1024 * 1024, .min = 1024, .max = LONG_MAX, .flags = RELOAD,
     .help = "an answer growing past this is replaced by one `QUERY_TOO_COMPLEX` error (in `measure` mode too)"},
    /* the reasons for these defaults are in README's "Quotas and rate limits" */
    {CFG(anon_rate), .name = "anon-rate", .env = "TENANTQL_ANON_RATE", .type = TQ_OPT_INT, .metavar = "N", .def = 10,
     .min = 1, .max = 1000000, .flags = TQ_OPTF_ZERO_OFF,
     .help = "requests per second one client address (IPv6: one /64) may send without a token (introspection, "
             "`login`, refusals): a token bucket per address; over it, 429 `RATE_LIMITED`"},
    {CFG(anon_burst), .name = "anon-burst", .env = "TENANTQL_ANON_BURST", .type = TQ_OPT_INT, .metavar = "N",
     .def = 100, .min = 1, .max = 1000000, .help = "what that bucket holds: requests at once after a pause"},
    {CFG(anon_login_cost), .name = "anon-login-cost", .env = "TENANTQL_ANON_LOGIN_COST", .type = TQ_OPT_INT,
     .metavar = "N", .def = 10, .min = 1, .max = 1000000,
     .help = "what one `login` takes from it (a password hash; other requests take 1); at most `--anon-burst`"},
    {CFG(tenant_rate), .name = "tenant-rate", .env = "TENANTQL_TENANT_RATE", .type = TQ_OPT_INT, .metavar = "N",
     .def = 0, .min = 0, .max = TQ_QUOTA_MAX, .flags = RELOAD,
     .help = "requests per second of a tenant whose `quota` has no `rate` (0: no limit)"},
    {CFG(tenant_burst), .name = "tenant-burst", .env = "TENANTQL_TENANT_BURST", .type = TQ_OPT_INT, .metavar = "N",
     .def = 0, .min = 0, .max = TQ_QUOTA_MAX, .flags = RELOAD,
     .help = "its burst, when the `quota` has none (0: one second of the rate)"},
    {CFG(tenant_in_flight), .name = "tenant-in-flight", .env = "TENANTQL_TENANT_IN_FLIGHT", .type = TQ_OPT_INT,
     .metavar = "N", .def = 256, .min = 0, .max = TQ_QUOTA_MAX, .flags = RELOAD,
     .help = "requests of a tenant being served at once, when its `quota` has no `in_flight` (0: no limit)"},
    {CFG(tenant_db_ms), .name = "tenant-db-ms", .env = "TENANTQL_TENANT_DB_MS", .type = TQ_OPT_INT, .metavar = "MS",
     .def = 0, .min = 0, .max = TQ_QUOTA_MAX, .flags = RELOAD,
     .help = "milliseconds of database time per second of a tenant, when its `quota` has no `db_ms_per_s` (0: no "
             "limit)"},
    {CFG(fair_share), .name = "fair-share", .env = "TENANTQL_FAIR_SHARE", .type = TQ_OPT_INT, .metavar = "PERCENT",
     .def = 50, .min = 0, .max = 100,
     .help = "when tenants' requests take more than this share of the workers' time, a tenant over its fair share of "
             "it gets 429 (0: off; see [Fair share](#fair-share-of-a-busy-server))"},
    {0},
};

void tq_server_config_init(tq_server_config *cfg)
{
    *cfg = (tq_server_config){0};
    tq_opts_defaults(tq_server_options, cfg);
}

void tq_server_jwt_settings(const tq_server_config *cfg, tq_jwt_settings *out)
{
    tq_jwt_settings_init(out);
    out->secret = cfg->jwt_secret;
    out->alg = cfg->jwt_alg;
    out->public_key_file = cfg->jwt_public_key;
    out->private_key_file = cfg->jwt_private_key;
    out->keys_file = cfg->jwt_keys;
    out->issuer = cfg->jwt_issuer;
    out->audience = cfg->jwt_audience;
    out->leeway = cfg->jwt_leeway;
}

int tq_server_config_check(const tq_server_config *cfg, char *err, size_t errlen)
{
    /* not TQ_OPTF_REQUIRED in the table: `dev` parses without it and fills it in */
    if (cfg->registry == NULL || *cfg->registry == '\0') {
        snprintf(err, errlen, "--registry (TENANTQL_REGISTRY) is required: the libpq conninfo of the registry");
        return -1;
    }
    if (tq_opts_check(tq_server_options, cfg, err, errlen) != 0)
        return -1;
    double sample;
    if (tq_trace_parse_sample(cfg->trace_sample, &sample, err, errlen) != 0 ||
        (cfg->otlp_endpoint != NULL && tq_trace_check_endpoint(cfg->otlp_endpoint, err, errlen) != 0))
        return -1;
    if (cfg->anon_rate > 0 && cfg->anon_login_cost > cfg->anon_burst) {
        snprintf(err, errlen, "--anon-login-cost (%d) must be at most --anon-burst (%d), or no login could pass",
                 cfg->anon_login_cost, cfg->anon_burst);
        return -1;
    }
    return 0;
}

/* Whether option o has the same value in a and b (strings by content; NULL only equals NULL). */
static bool same_value(const tq_opt *o, const tq_server_config *a, const tq_server_config *b)
{
    const char *pa = (const char *)a + o->offset, *pb = (const char *)b + o->offset;
    if (o->type != TQ_OPT_STRING)
        return memcmp(pa, pb, o->size) == 0;
    const char *sa, *sb;
    memcpy(&sa, pa, sizeof(sa));
    memcpy(&sb, pb, sizeof(sb));
    return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
}

static void append_name(char *buf, size_t len, const char *name)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", name);
}

void tq_server_config_diff(const tq_server_config *old, const tq_server_config *now, char *reload, size_t rlen,
                           char *restart, size_t slen)
{
    reload[0] = restart[0] = '\0';
    for (const tq_opt *o = tq_server_options; o->name != NULL; o++) {
        if (same_value(o, old, now))
            continue;
        if (o->flags & TQ_OPTF_RELOAD)
            append_name(reload, rlen, o->name);
        else
            append_name(restart, slen, o->name);
    }
}
