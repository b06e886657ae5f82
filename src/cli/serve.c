/*
 * serve.c - `tenantql serve`, and the server options `dev` shares.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tenantql/log.h"

void tq_serve_options_init(tq_serve_options *o)
{
    tq_server_config_init(&o->cfg);
    o->threads = o->cfg.threads;
    o->drain_ms = o->cfg.drain_timeout_ms;
    o->request_timeout_ms = o->cfg.request_timeout_ms;
    o->refresh_ms = o->cfg.registry_refresh_ms;
    o->max_connections = o->cfg.max_connections;
    o->doc_cache_entries = o->cfg.doc_cache_entries;
    o->hash_threads = o->cfg.hash_threads;
    o->hash_opslimit = (long)o->cfg.hash_opslimit;
    o->hash_memlimit = (long)o->cfg.hash_memlimit;
    o->login_rate_limit = o->cfg.login_rate_limit;
    o->login_rate_window_s = o->cfg.login_rate_window_s;
    o->log_level = "info";
    o->introspection = "on";
    o->graphiql = "on";
}

void tq_serve_options_table(tq_serve_options *o, tq_option *t)
{
    const tq_option table[TQ_SERVE_NOPTIONS] = {
        {"listen", "TENANTQL_LISTEN", TQ_OPT_STRING, &o->cfg.listen, "HOST:PORT",
         "address to serve on (default 127.0.0.1:8080)"},
        {"threads", "TENANTQL_THREADS", TQ_OPT_INT, &o->threads, "N", "worker threads (default: number of cores)"},
        {"registry", "TENANTQL_REGISTRY", TQ_OPT_STRING, &o->cfg.registry, "CONNINFO",
         "libpq connection string or URI of the registry database"},
        {"jwt-secret", "TENANTQL_JWT_SECRET", TQ_OPT_STRING, &o->cfg.jwt_secret, "SECRET",
         "HS256 key for tokens, at least 32 bytes"},
        {"jwt-issuer", "TENANTQL_JWT_ISSUER", TQ_OPT_STRING, &o->cfg.jwt_issuer, "ISS",
         "required token issuer (default tenantql; empty: not checked)"},
        {"jwt-alg", "TENANTQL_JWT_ALG", TQ_OPT_STRING, &o->cfg.jwt_alg, "ALG",
         "HS256 (default, with --jwt-secret), RS256 or ES256 (with --jwt-public-key)"},
        {"jwt-public-key", "TENANTQL_JWT_PUBLIC_KEY", TQ_OPT_STRING, &o->cfg.jwt_public_key, "FILE",
         "PEM public key (or certificate) that verifies RS256/ES256 tokens"},
        {"jwt-private-key", "TENANTQL_JWT_PRIVATE_KEY", TQ_OPT_STRING, &o->cfg.jwt_private_key, "FILE",
         "PEM private key of --jwt-public-key: lets the server issue tokens (login)"},
        {"jwt-keys", "TENANTQL_JWT_KEYS", TQ_OPT_STRING, &o->cfg.jwt_keys, "FILE",
         "JSON key set for rotation by kid (instead of --jwt-secret/--jwt-alg/--jwt-*-key)"},
        {"jwt-audience", "TENANTQL_JWT_AUDIENCE", TQ_OPT_STRING, &o->cfg.jwt_audience, "AUD",
         "required token audience (aud), also written into issued tokens (default: not checked)"},
        {"jwt-leeway", "TENANTQL_JWT_LEEWAY", TQ_OPT_INT, &o->cfg.jwt_leeway, "SECONDS",
         "clock skew allowed for exp, nbf and iat (default 30)"},
        {"token-ttl", "TENANTQL_TOKEN_TTL", TQ_OPT_INT, &o->cfg.token_ttl, "SECONDS",
         "lifetime of the tokens the server issues (default 3600)"},
        {"hash-threads", "TENANTQL_HASH_THREADS", TQ_OPT_INT, &o->hash_threads, "N",
         "password hashing threads, off the event loops (default 2; each hash takes memlimit)"},
        {"hash-opslimit", "TENANTQL_HASH_OPSLIMIT", TQ_OPT_INT, &o->hash_opslimit, "N",
         "Argon2id passes for new password hashes (default 2, libsodium's INTERACTIVE)"},
        {"hash-memlimit", "TENANTQL_HASH_MEMLIMIT", TQ_OPT_INT, &o->hash_memlimit, "BYTES",
         "Argon2id memory for new password hashes (default 67108864, libsodium's INTERACTIVE)"},
        {"login-rate-limit", "TENANTQL_LOGIN_RATE_LIMIT", TQ_OPT_INT, &o->login_rate_limit, "N",
         "login attempts allowed per tenant and email per window; 0 = no limit, else at least 5 (default 10)"},
        {"login-rate-window-s", "TENANTQL_LOGIN_RATE_WINDOW_S", TQ_OPT_INT, &o->login_rate_window_s, "SECONDS",
         "the login limit's window, 1 to 60 (default 60)"},
        {"trust-tenant-header", "TENANTQL_TRUST_TENANT_HEADER", TQ_OPT_FLAG, &o->cfg.trust_tenant_header, NULL,
         "let X-Tenant-ID (name or id) select a tenant without a token: local benchmarks only"},
        {"max-body", "TENANTQL_MAX_BODY", TQ_OPT_INT, &o->cfg.max_body_bytes, "BYTES",
         "largest request body accepted (default 1048576)"},
        {"request-timeout-ms", "TENANTQL_REQUEST_TIMEOUT_MS", TQ_OPT_INT, &o->request_timeout_ms, "MS",
         "answer 503 to a request still running after this (default 30000)"},
        {"drain-timeout-ms", "TENANTQL_DRAIN_TIMEOUT_MS", TQ_OPT_INT, &o->drain_ms, "MS",
         "on SIGTERM, wait this long for requests in flight (default 10000)"},
        {"max-connections", "TENANTQL_MAX_CONNECTIONS", TQ_OPT_INT, &o->max_connections, "N",
         "connections to tenant databases across all tenants; 0 = no cap (default 100)"},
        {"doc-cache-entries", "TENANTQL_DOC_CACHE_ENTRIES", TQ_OPT_INT, &o->doc_cache_entries, "N",
         "parsed and validated documents remembered per worker thread; 0 = none (default 512)"},
        {"tenant-sslmode", "TENANTQL_TENANT_SSLMODE", TQ_OPT_STRING, &o->cfg.tenant_sslmode, "MODE",
         "libpq sslmode for tenant databases (default prefer)"},
        {"registry-refresh-ms", "TENANTQL_REGISTRY_REFRESH_MS", TQ_OPT_INT, &o->refresh_ms, "MS",
         "full re-read of the registry besides change notifications (default 30000)"},
        {"log-level", "TENANTQL_LOG_LEVEL", TQ_OPT_STRING, &o->log_level, "LEVEL",
         "debug, info, warn or error (default info)"},
        {"introspection", "TENANTQL_INTROSPECTION", TQ_OPT_STRING, &o->introspection, "on|off",
         "answer introspection queries (__schema, __type) (default on)"},
        {"graphiql", "TENANTQL_GRAPHIQL", TQ_OPT_STRING, &o->graphiql, "on|off",
         "serve GraphiQL to browsers at / and /graphql, from the binary (default on)"},
    };
    memcpy(t, table, sizeof(table));
}

int tq_serve_options_finish(tq_serve_options *o, tq_server_config *out)
{
    if (tq_log_set_level_name(o->log_level) != 0) {
        fprintf(stderr, "tenantql: --log-level must be debug, info, warn or error\n");
        return -1;
    }
    if (tq_options_parse_bool(o->introspection, &o->cfg.introspection) != 0) {
        fprintf(stderr, "tenantql: --introspection must be on or off\n");
        return -1;
    }
    if (tq_options_parse_bool(o->graphiql, &o->cfg.graphiql) != 0) {
        fprintf(stderr, "tenantql: --graphiql must be on or off\n");
        return -1;
    }
    o->cfg.threads = (int)o->threads;
    o->cfg.drain_timeout_ms = o->drain_ms;
    o->cfg.request_timeout_ms = o->request_timeout_ms;
    o->cfg.registry_refresh_ms = (int)o->refresh_ms;
    o->cfg.max_connections = (int)o->max_connections;
    o->cfg.doc_cache_entries = (int)o->doc_cache_entries;
    /* out-of-range values become ones the server refuses, rather than wrapping */
    o->cfg.hash_threads = o->hash_threads < 0 || o->hash_threads > 1000 ? -1 : (int)o->hash_threads;
    o->cfg.hash_opslimit = o->hash_opslimit < 0 ? 0 : (unsigned long long)o->hash_opslimit;
    o->cfg.hash_memlimit = o->hash_memlimit < 0 ? 0 : (size_t)o->hash_memlimit;
    o->cfg.login_rate_limit = o->login_rate_limit < 0 || o->login_rate_limit > 1000000 ? -1 : (int)o->login_rate_limit;
    o->cfg.login_rate_window_s = o->login_rate_window_s < 1 || o->login_rate_window_s > 3600 ? -1 : (int)o->login_rate_window_s;
    *out = o->cfg;
    return 0;
}

int tq_cmd_serve(int argc, char **argv)
{
    tq_serve_options o;
    tq_serve_options_init(&o);
    tq_option opts[TQ_SERVE_NOPTIONS + 1] = {{0}};
    tq_serve_options_table(&o, opts);
    static const tq_command_help help = {
        "tenantql serve [options]",
        "Serves the GraphQL API at /graphql. Tenants come from the registry database; each request names its\n"
        "tenant through the tenantId claim of its bearer token."};
    int npos;
    int rc = tq_options_parse(&help, opts, argc, argv, &npos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (npos > 0) {
        fprintf(stderr, "tenantql serve: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    tq_server_config cfg;
    if (tq_serve_options_finish(&o, &cfg) != 0)
        return 2;
    return tq_server_run(&cfg);
}
