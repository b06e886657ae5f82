/*
 * hygiene.c - HTTP/1 framing checks that run before any handler.
 *
 * Request smuggling: a request with both Content-Length and Transfer-Encoding (RFC 9112
 * section 6.1), or with two different Content-Lengths (section 6.3), is framed one way
 * by h2o and may be framed the other way by a proxy in front of it. h2o 2.2 reads the
 * first as chunked and keeps the connection open, so whatever follows the chunked body
 * (the rest of what the proxy took for the body) runs as a request of its own. Such a
 * request gets 400 and the connection is closed, so those bytes are never read as one.
 *
 * h2o 2.2 keeps neither header in req->headers (both are "special": it only uses them to
 * pick its body reader), so the check reads the request head itself, from the
 * connection's input buffer: h2o consumes a request's bytes only after its answer, so at
 * handler time the buffer starts with this request's head.
 */
#include <strings.h>

#include "internal.h"

/* the longest request head h2o 2.2 parses */
#define MAX_HEAD H2O_MAX_REQLEN

typedef struct hygiene_handler {
    h2o_handler_t super;
    tq_server *server;
} hygiene_handler;

/* What the head says about the body's framing. */
typedef struct framing {
    int content_lengths;      /* Content-Length fields */
    bool lengths_differ;      /* two of them with different values */
    bool transfer_encoding;   /* a Transfer-Encoding field */
    const char *first_length; /* the first Content-Length's value */
    size_t first_length_len;
} framing;

static bool name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* Trims spaces and tabs on both sides. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t'))
        (*s)++, (*len)--;
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r'))
        (*len)--;
}

static void note_field(framing *f, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return;
    size_t name_len = (size_t)(colon - line);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    trim(&value, &value_len);
    if (name_is(line, name_len, "transfer-encoding")) {
        f->transfer_encoding = true;
    } else if (name_is(line, name_len, "content-length")) {
        if (f->content_lengths++ == 0) {
            f->first_length = value;
            f->first_length_len = value_len;
        } else if (value_len != f->first_length_len || memcmp(value, f->first_length, value_len) != 0) {
            f->lengths_differ = true;
        }
    }
}

/* Reads the header fields of the head at the start of buf (bounded by MAX_HEAD). */
static void read_framing(const char *buf, size_t size, framing *f)
{
    const char *p = buf, *end = buf + (size < MAX_HEAD ? size : MAX_HEAD);
    bool request_line = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return;
        size_t len = (size_t)(nl - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0 && !request_line)
            return; /* the blank line: the head ends */
        /* a line starting with whitespace continues the previous one (obsolete folding) */
        if (!request_line && p[0] != ' ' && p[0] != '\t')
            note_field(f, p, len);
        request_line = false;
        p = nl + 1;
    }
}

bool tq_http_framed_twice(h2o_req_t *req)
{
    /* only HTTP/1 frames bodies with these headers; without a body there is nothing to frame */
    if (req->version >= 0x200 || req->entity.base == NULL || req->conn->callbacks->get_socket == NULL)
        return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->input == NULL)
        return false;
    framing f = {0};
    read_framing(sock->input->bytes, sock->input->size, &f);
    return (f.transfer_encoding && f.content_lengths > 0) || f.lengths_differ;
}

static int on_hygiene_request(h2o_handler_t *self, h2o_req_t *req)
{
    hygiene_handler *h = (hygiene_handler *)self;
    if (!tq_http_framed_twice(req))
        return -1; /* the next handler of the path answers */
    static const char body[] = "{\"errors\":[{\"message\":\"The request has both Content-Length and Transfer-Encoding "
                               "(or two different Content-Lengths).\",\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}";
    tq_log_limited(TQ_LOG_INFO, "http", "refused: framed two ways",
                   "refused a request framed two ways (Content-Length and Transfer-Encoding): connection closed");
    tq_server_count_status(h->server, 400);
    tq_server_count_refusal(h->server, TQ_REFUSED_FRAMING);
    /* whatever follows the body h2o read must never be read as a request */
    req->http1_is_persistent = 0;
    req->res.status = 400;
    req->res.reason = "Bad Request";
    req->res.content_length = sizeof(body) - 1;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    tq_http_add_json_headers(req);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(body, sizeof(body) - 1);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

void tq_hygiene_register(h2o_pathconf_t *pathconf, tq_server *server)
{
    hygiene_handler *h = (hygiene_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_hygiene_request;
    h->server = server;
}
