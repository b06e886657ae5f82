/*
 * server.h - the GraphQL HTTP server: configuration and the blocking run function used
 * by `tenantql serve` and `tenantql dev`.
 */
#ifndef TENANTQL_SERVER_H
#define TENANTQL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "tenantql/jwt_settings.h"

typedef struct tq_server_config {
    const char *listen;          /* "HOST:PORT" (default 127.0.0.1:8080) */
    int threads;                 /* worker threads (default: number of cores) */
    const char *registry;        /* libpq conninfo of the registry database */
    const char *jwt_secret;      /* HS256 key, at least 32 bytes */
    const char *jwt_issuer;      /* expected and written "iss" (default "tenantql") */
    const char *jwt_alg;         /* NULL/HS256 (with jwt_secret), RS256 or ES256 (with jwt_public_key) */
    const char *jwt_public_key;  /* PEM file: the RS256/ES256 verification key */
    const char *jwt_private_key; /* PEM file: its private key, to issue tokens (optional) */
    const char *jwt_keys;        /* JSON key set file (rotation by kid), instead of the four above */
    const char *jwt_audience;    /* required and written "aud"; NULL = not checked */
    long jwt_leeway;             /* seconds of clock skew for exp/nbf/iat (default 30) */
    bool trust_tenant_header;    /* accept X-Tenant-ID without a token (benchmarks only) */
    bool introspection;          /* answer __schema and __type (default true) */
    long max_body_bytes;         /* request bodies above this get 413 (default 1 MiB) */
    long drain_timeout_ms;       /* shutdown: wait this long for requests in flight (default 10000) */
    long request_timeout_ms;     /* a request still running after this is answered 503 (default 30000) */
    const char *tenant_sslmode;  /* sslmode for tenant connections (default "prefer") */
    int registry_refresh_ms;     /* full re-read of the registry (default 30000) */
    int max_connections;         /* tenant connections across all pools, 0 = no cap (default 100) */
    int doc_cache_entries;       /* parsed documents remembered per worker, 0 = none (default 512) */
    const char *ready_banner;    /* printed to stdout once listening (tenantql dev) */
    bool graphiql;               /* serve GraphiQL to browsers at / and /graphql (default on) */
    const char *graphiql_headers; /* JSON text pre-filled in GraphiQL's headers tab (dev), or NULL */
    const char *graphiql_query;  /* query pre-filled in GraphiQL (dev), or NULL */
    long token_ttl;              /* seconds from iat to exp of tokens issued by login (default 3600) */
    int hash_threads;            /* password hashing threads (default 2) */
    unsigned long long hash_opslimit; /* Argon2id opslimit (default libsodium's INTERACTIVE) */
    size_t hash_memlimit;        /* Argon2id memlimit in bytes (default INTERACTIVE, 64 MiB) */
    int login_rate_limit;        /* login attempts per tenant and email per window (default 10) */
    int login_rate_window_s;     /* the window, seconds (default 60) */
} tq_server_config;

/* Fills the defaults. */
void tq_server_config_init(tq_server_config *cfg);

/* 0, or -1 with a message naming the option that is out of bounds. */
int tq_server_config_check(const tq_server_config *cfg, char *err, size_t errlen);

/* The token options of cfg, for tq_jwt_settings_load (server start-up, dev's banner). */
void tq_server_jwt_settings(const tq_server_config *cfg, tq_jwt_settings *out);

/* Starts the workers and serves until SIGINT or SIGTERM, then drains and cleans up.
 * Returns the process exit code. */
int tq_server_run(const tq_server_config *cfg);

#endif
