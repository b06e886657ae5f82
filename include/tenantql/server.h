/*
 * server.h - the GraphQL HTTP server: configuration and the blocking run function used
 * by `tenantql serve` and `tenantql dev`.
 */
#ifndef TENANTQL_SERVER_H
#define TENANTQL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "tenantql/jwt_settings.h"
#include "tenantql/log.h"
#include "tenantql/options.h"

/* What the server does with an operation over the budget (--limits). */
typedef enum tq_limits_mode {
    TQ_LIMITS_ENFORCE, /* refuse it: QUERY_TOO_COMPLEX, no data */
    TQ_LIMITS_MEASURE, /* run it; log and count what it exceeds */
} tq_limits_mode;

/* The options of `serve` (and `dev`): each field below that is an option is filled from
 * tq_server_options, which holds its flag, variable, default and bounds (config.c). */
/* --access-log's formats, in its choices' order. */
enum { TQ_ACCESS_LOG_JSON, TQ_ACCESS_LOG_TEXT, TQ_ACCESS_LOG_OFF };
/* Reads the configuration again as at start-up - the same command line, the environment,
 * the configuration file as it is now - into out (after tq_server_config_init): 0, or -1
 * with err. *text receives the file's text, which out's strings from the file point into
 * (the caller frees it). Blocking: the reload thread calls it. */
typedef struct tq_server_config tq_server_config;
typedef int (*tq_server_reparse_fn)(void *arg, tq_server_config *out, char **text, char *err, size_t errlen);

typedef struct tq_server_config {
    const char *config_file;     /* --config FILE: options beneath flags and variables; SIGHUP reloads it */
    const char *listen;          /* --listen HOST:PORT */
    const char *admin_listen;    /* --admin-listen HOST:PORT, or "off" */
    int metrics_tenants;         /* --metrics-tenants: tenants named in per-tenant request series */
    const char *otlp_endpoint;   /* --otlp-endpoint: the OTLP/HTTP collector's URL, or NULL: no traces */
    const char *trace_sample;    /* --trace-sample: ratio of new traces recorded ("0.01") */
    bool trace_sql_comment;      /* --trace-sql-comment: recorded requests' statements carry their traceparent */
    const char *cors_origins;    /* --cors-origins: the CORS allow-list */
    bool cors_credentials;       /* --cors-credentials */
    long cors_max_age_s;         /* --cors-max-age-s: how long a browser may keep a preflight's answer */
    int admin_threads;           /* --admin-threads: blocking admin jobs at once */
    const char *export_dir;      /* --export-dir: where offboarding writes a tenant's archive */
    long offboard_grace_s;       /* --offboard-grace-s: an offboarded tenant is dropped after this */
    int threads;                 /* --threads: worker threads */
    const char *registry;        /* --registry: libpq conninfo of the registry database (required) */
    const char *jwt_secret;      /* --jwt-secret: HS256 key */
    const char *jwt_alg;         /* --jwt-alg: NULL/HS256 (with jwt_secret), RS256 or ES256 (with jwt_public_key) */
    const char *jwt_public_key;  /* --jwt-public-key: PEM file, the RS256/ES256 verification key */
    const char *jwt_private_key; /* --jwt-private-key: PEM file, its private key, to issue tokens */
    const char *jwt_keys;        /* --jwt-keys: JSON key set file (rotation by kid), instead of the four above */
    const char *jwt_issuer;      /* --jwt-issuer: expected and written "iss"; "" = not checked */
    const char *jwt_audience;    /* --jwt-audience: required and written "aud"; NULL = not checked */
    long jwt_leeway;             /* --jwt-leeway: seconds of clock skew for exp/nbf/iat */
    long token_ttl;              /* --token-ttl: seconds from iat to exp of tokens issued by login */
    bool trust_tenant_header;    /* --trust-tenant-header: X-Tenant-ID without a token (benchmarks only) */
    long max_body_bytes;         /* --max-body: request bodies above this get 413 */
    long request_timeout_ms;     /* --request-timeout-ms: a request still running after this is answered 503 */
    long drain_timeout_ms;       /* --drain-timeout-ms: shutdown waits this long for requests in flight */
    long pause_max_wait_ms;      /* --pause-max-wait-ms: a paused tenant's request waits this long, then 503 */
    int max_connections;         /* --max-connections: tenant connections across all pools, 0 = no cap */
    int cluster_max_connections; /* --cluster-max-connections: the cap of all processes sharing the registry, 0 = off */
    int cluster_timeout_ms;      /* --cluster-timeout-ms: a heartbeat older than this is a dead process's */
    int shared_db_max;           /* --shared-db-max: connections to one shared database */
    int statement_cache;         /* --statement-cache: prepared statements kept per database connection, 0 = none */
    int max_client_connections;  /* --max-client-connections: open HTTP connections, 0 = derived from the fd limit */
    int doc_cache_entries;       /* --doc-cache-entries: parsed documents remembered per worker, 0 = none */
    const char *tenant_sslmode;  /* --tenant-sslmode: sslmode for tenant connections */
    int registry_refresh_ms;     /* --registry-refresh-ms: full re-read of the registry */
    const char *secrets_key_file; /* --secrets-key-file: the key ring of sealed passwords (else TENANTQL_SECRETS_KEY) */
    tq_log_level log_level;      /* --log-level: process-wide; the command line sets it before serving */
    int log_rate_limit;          /* --log-rate-limit: client-caused lines per reason per 10 s, 0 = no limit */
    int access_log;              /* --access-log: TQ_ACCESS_LOG_JSON, _TEXT or _OFF */
    const char *access_log_file; /* --access-log-file: "-" is standard output */
    bool introspection;          /* --introspection: answer __schema and __type */
    bool graphiql;               /* --graphiql: serve GraphiQL to browsers at / and /graphql */
    int hash_threads;            /* --hash-threads: password hashing threads */
    unsigned long long hash_opslimit; /* --hash-opslimit: Argon2id opslimit of new hashes */
    size_t hash_memlimit;             /* --hash-memlimit: Argon2id memlimit of new hashes, bytes */
    int login_rate_limit;             /* --login-rate-limit: login attempts per tenant and email per window, 0 = off */
    int login_rate_window_s;          /* --login-rate-window-s: the window, seconds */
    int login_rate_keys;              /* --login-rate-keys: tenant+email pairs the limit remembers */
    tq_limits_mode limits;            /* --limits: enforce or measure the budget below */
    long max_depth;                   /* --max-depth: field nesting of an operation, fragments expanded */
    long max_fields;                  /* --max-fields: field selections, fragments expanded */
    long max_aliases;                 /* --max-aliases: aliased field selections, fragments expanded */
    long max_cost;                    /* --max-cost: 1 per field, list fields times their items */
    long max_response_bytes;          /* --max-response-bytes: larger answers are replaced by an error */
    int anon_rate;                    /* --anon-rate: requests without a token per second per address, 0 = off */
    int anon_burst;                   /* --anon-burst: what each address's bucket holds */
    int anon_login_cost;              /* --anon-login-cost: what a login takes from it (others take 1) */
    int tenant_rate;                  /* --tenant-rate: default quota: requests per second, 0 = none */
    int tenant_burst;                 /* --tenant-burst: its burst, 0 = one second of the rate */
    int tenant_in_flight;             /* --tenant-in-flight: requests being served at once, 0 = none */
    int tenant_db_ms;                 /* --tenant-db-ms: database milliseconds per second, 0 = none */
    int fair_share;                   /* --fair-share: busy above this % of the workers' time, 0 = off */

    /* set by `tenantql dev`, not options */
    const char *ready_banner;     /* printed to stdout once listening, or NULL */
    const char *graphiql_headers; /* JSON text pre-filled in GraphiQL's headers tab, or NULL */
    const char *graphiql_query;   /* query pre-filled in GraphiQL, or NULL */

    /* set by `serve` and `dev`: how SIGHUP reads the configuration again (NULL: it cannot) */
    tq_server_reparse_fn reparse;
    void *reparse_arg;
} tq_server_config;

/* The serve options over tq_server_config, ending with a zeroed entry; static. */
extern const tq_opt tq_server_options[];

/* Zeroes cfg and fills every option's default from tq_server_options. */
void tq_server_config_init(tq_server_config *cfg);

/* Every option within its bounds, the registry given: 0, or -1 with a message naming the
 * option at fault. (The key options are checked together when loaded: tq_jwt_settings_load.) */
int tq_server_config_check(const tq_server_config *cfg, char *err, size_t errlen);

/* The token options of cfg, for tq_jwt_settings_load (server start-up, dev's banner). */
void tq_server_jwt_settings(const tq_server_config *cfg, tq_jwt_settings *out);

/* Which options a SIGHUP applies (TQ_OPTF_RELOAD) and which need a restart, old against
 * new: the names of reloadable options that differ go to reload (comma-separated), of the
 * others to restart; secret values are compared, never written. */
void tq_server_config_diff(const tq_server_config *old, const tq_server_config *now, char *reload, size_t rlen,
                           char *restart, size_t slen);

/* Starts the workers and serves until SIGINT or SIGTERM, then drains and cleans up;
 * SIGHUP reloads (cfg->reparse).
 * Returns the process exit code. */
int tq_server_run(const tq_server_config *cfg);

#endif
