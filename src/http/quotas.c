/*
 * quotas.c - what a client address and a tenant may take of the server, as the /graphql
 * handler asks it: the budget of each address for requests without a token
 * (client_budget.c keeps the buckets), the tenant's quota (tenant/quota.c keeps the
 * counters), and how both are told to clients: 429 with Retry-After, and for a tenant
 * with a quota the IETF RateLimit-Policy and RateLimit fields on every answer
 * (draft-ietf-httpapi-ratelimit-headers-11, structured-field lists):
 *
 *   RateLimit-Policy: "rate";q=100;w=2, "in-flight";q=20;qu="concurrent-requests",
 *                     "db-time";q=500;w=1;qu="tenantql-db-ms"
 *   RateLimit: "rate";r=57, "in-flight";r=19, "db-time";r=420
 *
 * A token bucket of `rate` per second holding `burst` is told as q=burst per
 * w=ceil(burst/rate) seconds; r is what is left now, and t (on a policy with nothing
 * left) the seconds until there is again - what Retry-After says when that policy
 * refused. The draft registers no unit of time, so database time carries a unit of our
 * own, vendor-prefixed as the draft asks; clients that do not know it ignore the policy.
 */
#include <stdio.h>

#include "internal.h"
#include "tenantql/clock.h"
#include "tenantql/cluster.h"
#include "tenantql/log.h"

/* ---- the budget of a client address ---- */

int tq_quotas_client_take(tq_server *s, h2o_req_t *req, int cost)
{
    if (s->client_budget == NULL || req == NULL)
        return 0;
    struct sockaddr_storage ss;
    tq_client_key key;
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0 ||
        !tq_client_key_of((struct sockaddr *)&ss, &key))
        return 0; /* not an IP peer (a unix socket): nothing to key it by */
    int retry = tq_client_budget_take(s->client_budget, &key, cost, tq_clock_ms());
    if (retry > 0)
        tq_server_count_refusal(s, TQ_REFUSED_CLIENT_BUDGET);
    return retry;
}

/* ---- the quota of a tenant ---- */

static void write_policy(tq_strbuf *b, const tq_quota *q)
{
    const char *sep = "";
    if (q->rate > 0) {
        int burst = tq_quota_burst(q);
        tq_strbuf_printf(b, "\"rate\";q=%d;w=%d", burst, (burst + q->rate - 1) / q->rate);
        sep = ", ";
    }
    if (q->in_flight > 0) {
        tq_strbuf_printf(b, "%s\"in-flight\";q=%d;qu=\"concurrent-requests\"", sep, q->in_flight);
        sep = ", ";
    }
    if (q->db_ms > 0)
        tq_strbuf_printf(b, "%s\"db-time\";q=%d;w=1;qu=\"tenantql-db-ms\"", sep, q->db_ms);
}

static void write_limit(tq_strbuf *b, const tq_quota *q, const tq_quota_state *st)
{
    const char *sep = "";
    if (q->rate > 0) {
        tq_strbuf_printf(b, "\"rate\";r=%ld", st->rate_left);
        if (st->rate_left == 0)
            tq_strbuf_printf(b, ";t=%d", st->rate_next_s);
        sep = ", ";
    }
    if (q->in_flight > 0) {
        tq_strbuf_printf(b, "%s\"in-flight\";r=%d", sep, st->in_flight_left);
        sep = ", ";
    }
    if (q->db_ms > 0) {
        tq_strbuf_printf(b, "%s\"db-time\";r=%ld", sep, st->db_ms_left);
        if (st->db_next_s > 0)
            tq_strbuf_printf(b, ";t=%d", st->db_next_s);
    }
}

static const char *arena_copy(tq_arena *a, tq_strbuf *b)
{
    char *out = tq_arena_strndup(a, b->data != NULL ? b->data : "", b->len);
    tq_strbuf_free(b);
    return out;
}

static const char *const verdict_names[] = {"ok", "requests per second", "requests in flight",
                                            "database time per second", "a fair share of a busy server"};

bool tq_quotas_tenant_admit(tq_server *s, tq_tenant *t, tq_arena *a, tq_quota_ticket *ticket)
{
    memset(ticket, 0, sizeof(*ticket));
    tq_quota q = *tq_tenant_quota(t);
    tq_quota_merge(&q, &tq_live_here()->default_quota);
    tq_quota_split(&q, tq_cluster_instances()); /* 1 outside a cluster */
    bool any = tq_quota_any(&q);
    if (!any && !tq_share_enabled())
        return true;
    tq_usage *u = tq_tenant_usage(t);
    tq_quota_state st;
    ticket->verdict = tq_usage_admit(u, &q, tq_clock_ms(), &st);
    if (any) {
        tq_strbuf policy = TQ_STRBUF_INIT, limit = TQ_STRBUF_INIT;
        write_policy(&policy, &q);
        write_limit(&limit, &q, &st);
        ticket->policy = arena_copy(a, &policy);
        ticket->limit = arena_copy(a, &limit);
    }
    if (ticket->verdict == TQ_QUOTA_OK) {
        ticket->usage = u;
        return true;
    }
    static const tq_refusal_reason reasons[] = {TQ_REFUSED_TENANT_RATE, TQ_REFUSED_TENANT_RATE,
                                                TQ_REFUSED_TENANT_IN_FLIGHT, TQ_REFUSED_TENANT_DB_TIME,
                                                TQ_REFUSED_TENANT_SHARE};
    tq_server_count_refusal(s, reasons[ticket->verdict]);
    ticket->retry_after_s = st.retry_after_s;
    ticket->what = verdict_names[ticket->verdict];
    return false;
}

void tq_quotas_tenant_leave(tq_quota_ticket *ticket)
{
    if (ticket->usage != NULL)
        tq_usage_leave(ticket->usage);
    ticket->usage = NULL;
}

void tq_quotas_tenant_charge(const tq_quota_ticket *ticket, uint64_t us)
{
    if (ticket->usage != NULL)
        tq_usage_charge_served(ticket->usage, us, tq_clock_ms());
}

void tq_quotas_add_headers(h2o_req_t *req, const tq_quota_ticket *ticket)
{
    if (ticket->policy == NULL)
        return;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit-policy"), 0, NULL, ticket->policy,
                          strlen(ticket->policy));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit"), 0, NULL, ticket->limit,
                          strlen(ticket->limit));
}
