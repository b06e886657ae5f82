/*
 * error_filter.c - h2o answers some requests itself before any handler runs: a body
 * over the size limit (413), broken chunked encoding (400). Its answer is plain text;
 * GraphQL clients expect a JSON `errors` entry, so this output filter swaps the body
 * of such answers for one (with the headers of every JSON answer: nosniff, no-store).
 * Answers made by tenantql are JSON already and pass through.
 */
#include <string.h>

#include "internal.h"

typedef struct error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
} error_ostream;

static void on_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    error_ostream *os = (error_ostream *)self;
    (void)bufs;
    (void)bufcnt;
    /* h2o's text arrives in one final chunk: replace it, keep the state */
    h2o_ostream_send_next(&os->super, req, &os->body, 1, state);
    os->body = h2o_iovec_init(NULL, 0);
}

static bool is_plain_text(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    return i >= 0 && h2o_memis(req->res.headers.entries[i].value.base, 10, H2O_STRLIT("text/plain"));
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const char *message = NULL;
    if (req->res.status == 413)
        message = "{\"errors\":[{\"message\":\"The request body is too large.\","
                  "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}";
    else if (req->res.status == 400)
        message = "{\"errors\":[{\"message\":\"The HTTP request is malformed.\","
                  "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}";
    if (message == NULL || !is_plain_text(req)) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json; charset=utf-8"));
    req->res.content_length = strlen(message);
    tq_http_add_json_headers(req);
    error_ostream *os = (error_ostream *)h2o_add_ostream(req, sizeof(*os), slot);
    os->super.do_send = on_send;
    os->body = h2o_iovec_init(message, strlen(message));
    slot = &os->super.next;
    h2o_setup_next_ostream(req, slot);
    (void)self;
}

void tq_error_filter_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
