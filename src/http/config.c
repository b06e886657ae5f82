/*
 * config.c - the server's configuration: defaults and the checks every value must pass
 * before the server starts.
 */
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "tenantql/jwt.h"
#include "tenantql/password.h"
#include "tenantql/server.h"

void tq_server_config_init(tq_server_config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (tq_server_config){
        .listen = "127.0.0.1:8080",
        .threads = cores > 0 ? (int)cores : 1,
        .jwt_issuer = "tenantql",
        .jwt_leeway = TQ_JWT_DEFAULT_LEEWAY,
        .max_body_bytes = 1024 * 1024,
        .drain_timeout_ms = 10000,
        .request_timeout_ms = 30000,
        .max_connections = 100,
        .doc_cache_entries = 512,
        .tenant_sslmode = "prefer",
        .registry_refresh_ms = 30000,
        .introspection = true,
        .graphiql = true,
        .token_ttl = 3600,
        .hash_threads = TQ_PASSWORD_DEFAULT_THREADS,
        .hash_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE,
        .hash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE,
        .login_rate_limit = 10,
        .login_rate_window_s = 60,
    };
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
    if (cfg->registry == NULL || *cfg->registry == '\0') {
        snprintf(err, errlen, "--registry (TENANTQL_REGISTRY) is required: the libpq conninfo of the registry");
        return -1;
    }
    /* the token keys are checked when they are loaded (load_parts) */
    if (cfg->token_ttl < 1 || cfg->token_ttl > 31 * 86400) {
        snprintf(err, errlen, "--token-ttl must be between 1 second and 31 days (2678400 seconds)");
        return -1;
    }
    if (cfg->threads < 1 || cfg->threads > 256) {
        snprintf(err, errlen, "--threads must be between 1 and 256");
        return -1;
    }
    if (cfg->max_body_bytes < 1024) {
        snprintf(err, errlen, "--max-body must be at least 1024 bytes");
        return -1;
    }
    if (cfg->doc_cache_entries < 0 || cfg->doc_cache_entries > 1000000) {
        snprintf(err, errlen, "--doc-cache-entries must be between 0 and 1000000");
        return -1;
    }
    if (cfg->max_connections < 0 || cfg->max_connections > 100000) {
        snprintf(err, errlen, "--max-connections must be between 0 (no cap) and 100000");
        return -1;
    }
    /* the contract allows at least 5 attempts per email per minute */
    if ((cfg->login_rate_limit != 0 && cfg->login_rate_limit < 5) || cfg->login_rate_limit > 1000000 ||
        cfg->login_rate_window_s < 1 || cfg->login_rate_window_s > 60) {
        snprintf(err, errlen, "--login-rate-limit must be 0 (off) or at least 5, per --login-rate-window-s of 1 to 60");
        return -1;
    }
    return 0;
}

