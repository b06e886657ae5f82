/*
 * live.c - the settings a SIGHUP may change (TQ_OPTF_RELOAD options: token keys, the
 * budget's limits, default quotas, CORS), as one immutable, reference-counted snapshot,
 * and the reload itself.
 *
 * Why a snapshot: worker loops read these on every request and must never see half of a
 * new configuration or a freed key. The reload builds a whole new snapshot off the loops
 * (key files are read, blocking), installs it under a mutex and sends each worker a
 * message; each worker then takes a reference on its own loop, between callbacks, and
 * drops its old one. A request holds a reference to the snapshot of its start for its
 * whole life (login signs with it after hashing, long after), so a snapshot is freed when
 * the last worker and request let go of it. Reads on a worker (tq_live_here) use the
 * worker's current snapshot.
 *
 * The reload runs on the main thread, which takes SIGHUP with sigtimedwait (no signal
 * handler at all): it reads flags, environment and file again (cfg.reparse), checks the
 * whole configuration as at start-up, builds the snapshot, and applies all of it or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/log.h"

/* The worker's current snapshot, for code without its request at hand (limits, quotas). */
static _Thread_local tq_live *here;

tq_live *tq_live_build(tq_server *s, const tq_server_config *c, char *err, size_t errlen)
{
    tq_live *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&l->refs, 1);
    tq_jwt_settings js;
    tq_server_jwt_settings(c, &js);
    if ((l->jwt = tq_jwt_settings_load(&js, err, errlen)) == NULL ||
        tq_cors_parse(c->cors_origins, c->cors_credentials, &l->cors, err, errlen) != 0) {
        tq_jwt_verifier_free(l->jwt);
        free(l);
        return NULL;
    }
    l->cors_max_age_s = c->cors_max_age_s;
    l->limits = c->limits;
    l->max_depth = c->max_depth;
    l->max_fields = c->max_fields;
    l->max_aliases = c->max_aliases;
    l->max_cost = c->max_cost;
    l->max_response_bytes = c->max_response_bytes;
    l->default_quota = (tq_quota){c->tenant_rate, c->tenant_burst, c->tenant_in_flight, c->tenant_db_ms};
    l->api_auth = s->api_auth; /* the registry and the login limit stay the server's */
    l->api_auth.jwt = l->jwt;
    l->api_auth.token_ttl = c->token_ttl;
    l->api_auth.leeway = c->jwt_leeway;
    return l;
}

tq_live *tq_live_hold(tq_live *l)
{
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    return l;
}

void tq_live_release(tq_live *l)
{
    if (l == NULL || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    tq_jwt_verifier_free(l->jwt);
    free(l);
}

tq_live *tq_live_acquire(tq_server *s)
{
    pthread_mutex_lock(&s->live_lock);
    tq_live *l = tq_live_hold(s->live);
    pthread_mutex_unlock(&s->live_lock);
    return l;
}

const tq_live *tq_live_here(void)
{
    return here;
}

/* ---- on each worker ---- */

/* A reload's note: take the current snapshot, and a token cache that trusts its keys only
 * (a token verified under a removed key must not be answered from the old cache). */
static void on_live_message(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    http_worker *hw = H2O_STRUCT_FROM_MEMBER(http_worker, live_rx, rx);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    atomic_store(&hw->live_pending, false); /* before taking it: a later reload sends again */
    tq_live *now = tq_live_acquire(hw->server);
    if (now == hw->live) {
        tq_live_release(now);
        return;
    }
    tq_token_cache *tokens = tq_token_cache_new(now->jwt, TQ_HTTP_TOKEN_CACHE_SLOTS);
    if (tokens == NULL) {
        tq_log_error("server", "worker %d: out of memory: the reloaded settings wait for the next reload",
                     tq_worker_id(hw->w));
        tq_live_release(now);
        return;
    }
    tq_token_cache_free(hw->tokens);
    hw->tokens = tokens;
    tq_live_release(hw->live);
    hw->live = here = now;
}

void tq_live_worker_init(http_worker *hw)
{
    hw->live = here = tq_live_acquire(hw->server);
    h2o_multithread_register_receiver(tq_worker_queue(hw->w), &hw->live_rx, on_live_message);
}

void tq_live_worker_dispose(http_worker *hw)
{
    h2o_multithread_unregister_receiver(tq_worker_queue(hw->w), &hw->live_rx);
    tq_live_release(hw->live);
    hw->live = here = NULL;
}

/* ---- the reload (main thread) ---- */

static void install(tq_server *s, tq_live *l)
{
    pthread_mutex_lock(&s->live_lock);
    tq_live *old = s->live;
    s->live = l;
    pthread_mutex_unlock(&s->live_lock);
    tq_live_release(old);
    for (int i = 0; i < s->nhws; i++) {
        http_worker *hw = s->hws[i];
        if (hw != NULL && !atomic_exchange(&hw->live_pending, true))
            h2o_multithread_send_message(&hw->live_rx, &hw->live_msg);
    }
}

static void refuse(tq_server *s, const char *why)
{
    atomic_fetch_add(&s->reloads[TQ_RELOAD_REFUSED], 1);
    tq_log_error("server", "SIGHUP: configuration refused, the old one stays in force: %s", why);
}

/* Copies the reloadable options of from into to (the configuration in force). */
static void take_reloadable(tq_server_config *to, const tq_server_config *from)
{
    for (const tq_opt *o = tq_server_options; o->name != NULL; o++)
        if (o->flags & TQ_OPTF_RELOAD)
            memcpy((char *)to + o->offset, (const char *)from + o->offset, o->size);
}

/* What a reload logs: what it applied, what waits for a restart, the keys now trusted. */
static void report(tq_server *s, const tq_server_config *now, const char *changed, const char *restart)
{
    const char *file = now->config_file != NULL ? now->config_file : "(no --config file)";
    if (*restart != '\0')
        tq_log_warn("server", "SIGHUP: changed, but needs a restart (not applied): %s", restart);
    tq_log_info("server", "SIGHUP: configuration reloaded from %s; changed: %s", file,
                *changed != '\0' ? changed : "nothing");
    char keys[512];
    tq_jwt_describe(s->live->jwt, keys, sizeof(keys));
    tq_log_info("auth", "tokens: %s", keys);
}

void tq_server_reload(tq_server *s)
{
    if (s->cfg.reparse == NULL) {
        refuse(s, "this server cannot read its configuration again");
        return;
    }
    tq_server_config now;
    char *text = NULL, err[4608], changed[2048], restart[2048];
    tq_server_config_init(&now);
    if (s->cfg.reparse(s->cfg.reparse_arg, &now, &text, err, sizeof(err)) != 0 ||
        tq_server_config_check(&now, err, sizeof(err)) != 0) {
        refuse(s, err);
        free(text);
        return;
    }
    tq_live *l = tq_live_build(s, &now, err, sizeof(err));
    if (l == NULL) {
        refuse(s, err);
        free(text);
        return;
    }
    /* in_force: the options as started, with the reloadable ones as last applied */
    tq_server_config_diff(&s->in_force, &now, changed, sizeof(changed), restart, sizeof(restart));
    tq_log_set_level(now.log_level);
    install(s, l);
    take_reloadable(&s->in_force, &now);
    free(s->in_force_text);
    s->in_force_text = text; /* in_force's strings from the file point into it */
    atomic_fetch_add(&s->reloads[TQ_RELOAD_OK], 1);
    report(s, &now, changed, restart);
}

void tq_server_write_reload_metrics(tq_server *s, tq_strbuf *b)
{
    tq_strbuf_printf(b, "tenantql_config_reloads_total{outcome=\"ok\"} %lu\n", atomic_load(&s->reloads[TQ_RELOAD_OK]));
    tq_strbuf_printf(b, "tenantql_config_reloads_total{outcome=\"refused\"} %lu\n",
                     atomic_load(&s->reloads[TQ_RELOAD_REFUSED]));
}
