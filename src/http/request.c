/*
 * request.c - reading a GraphQL-over-HTTP request: the parameters of a POST JSON body or
 * of a GET query string, and the response type the client accepts. Nothing here answers:
 * a request that cannot be read comes back as a refusal (status and message) for the
 * handler to send.
 */
#include <string.h>

#include "internal.h"

static bool refuse(tq_http_refusal *why, int status, const char *message)
{
    why->status = status;
    why->message = message;
    return false;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes application/x-www-form-urlencoded text into the arena (NUL-terminated). */
static char *url_decode(tq_arena *a, const char *s, size_t len, size_t *outlen)
{
    char *out = tq_arena_alloc(a, len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            *o++ = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* A JSON-encoded GET parameter that must hold an object (or null); empty means absent. */
static bool read_get_object(tq_arena *a, const char *name, const char *text, size_t len, json_t **out,
                            tq_http_refusal *why)
{
    if (text == NULL || len == 0)
        return true;
    json_error_t jerr;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(*out) && !json_is_null(*out))
        return refuse(why, 400, tq_arena_sprintf(a, "The %s parameter must be a JSON object.", name));
    return true;
}

/* GET /graphql?query=...&variables=...&operationName=...&extensions=... */
static bool read_get(h2o_req_t *req, tq_arena *a, tq_gql_params *gp, tq_http_refusal *why)
{
    if (req->query_at == SIZE_MAX)
        return refuse(why, 400, "Missing query: pass it as ?query=... or POST a JSON body.");
    const char *qs = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    const char *variables = NULL, *extensions = NULL;
    size_t variables_len = 0, extensions_len = 0;
    while (qs < end) {
        const char *amp = memchr(qs, '&', (size_t)(end - qs));
        const char *stop = amp ? amp : end, *eq = memchr(qs, '=', (size_t)(stop - qs));
        if (eq != NULL) {
            size_t klen = (size_t)(eq - qs), vlen;
            char *v = url_decode(a, eq + 1, (size_t)(stop - eq - 1), &vlen);
            if (klen == 5 && memcmp(qs, "query", 5) == 0)
                gp->query = v, gp->query_len = vlen;
            else if (klen == 9 && memcmp(qs, "variables", 9) == 0)
                variables = v, variables_len = vlen;
            else if (klen == 13 && memcmp(qs, "operationName", 13) == 0)
                gp->operation_name = vlen > 0 ? v : NULL;
            else if (klen == 10 && memcmp(qs, "extensions", 10) == 0)
                extensions = v, extensions_len = vlen;
        }
        qs = stop + 1;
    }
    if (gp->query == NULL)
        return refuse(why, 400, "Missing query: pass it as ?query=...");
    if (!read_get_object(a, "variables", variables, variables_len, &gp->json, why) ||
        !read_get_object(a, "extensions", extensions, extensions_len, &gp->extensions, why))
        return false;
    gp->variables = gp->json;
    return true;
}

static bool read_post(h2o_req_t *req, tq_arena *a, tq_gql_params *gp, tq_http_refusal *why)
{
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    h2o_iovec_t type = ct >= 0 ? req->headers.entries[ct].value : h2o_iovec_init(H2O_STRLIT(""));
    if (!tq_media_type_is(type, "application/json"))
        return refuse(why, 415, "Send the request as Content-Type: application/json (UTF-8).");
    json_error_t jerr;
    gp->json = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len, JSON_REJECT_DUPLICATES, &jerr);
    if (gp->json == NULL)
        return refuse(why, 400,
                      tq_arena_sprintf(a, "Malformed JSON body: %s (line %d, column %d).", jerr.text, jerr.line,
                                       jerr.column));
    if (!json_is_object(gp->json))
        return refuse(why, 400, "The request body must be a JSON object.");
    json_t *q = json_object_get(gp->json, "query"), *v = json_object_get(gp->json, "variables"),
           *op = json_object_get(gp->json, "operationName"), *ext = json_object_get(gp->json, "extensions");
    if (q == NULL || json_is_null(q))
        return refuse(why, 400, "Missing query: the body needs a \"query\" string.");
    if (!json_is_string(q))
        return refuse(why, 400, "The \"query\" entry must be a string.");
    if (v != NULL && !json_is_object(v) && !json_is_null(v))
        return refuse(why, 400, "The \"variables\" entry must be an object.");
    if (op != NULL && !json_is_string(op) && !json_is_null(op))
        return refuse(why, 400, "The \"operationName\" entry must be a string.");
    if (ext != NULL && !json_is_object(ext) && !json_is_null(ext))
        return refuse(why, 400, "The \"extensions\" entry must be an object.");
    gp->query = json_string_value(q);
    gp->query_len = json_string_length(q);
    gp->variables = v;
    gp->operation_name = json_is_string(op) ? json_string_value(op) : NULL;
    return true;
}

bool tq_http_read_graphql(h2o_req_t *req, tq_arena *a, bool is_get, tq_gql_params *gp, tq_http_refusal *why)
{
    memset(gp, 0, sizeof(*gp));
    return is_get ? read_get(req, a, gp, why) : read_post(req, a, gp, why);
}

void tq_gql_params_dispose(tq_gql_params *gp)
{
    json_decref(gp->json);
    json_decref(gp->extensions);
    gp->json = gp->extensions = NULL;
}

bool tq_http_negotiate_graphql(h2o_req_t *req, bool *graphql_response)
{
    unsigned graphql = tq_accept_score(req, "application/graphql-response+json"),
             json = tq_accept_score(req, "application/json");
    *graphql_response = graphql > json || (graphql == json && tq_accept_score_exact(graphql));
    return graphql > 0 || json > 0;
}
