/*
 * graphiql.c - GraphiQL served by tenantql: the HTML page for browsers at /graphql and /,
 * and GraphiQL's and React's files from the binary (tq_graphiql_assets, compiled in from
 * web/node_modules by tools/embed.py).
 *
 * The page is built once at start-up (it only depends on the configuration: dev puts a
 * demo token and a sample query in it) and is answered with no-store, since the token
 * changes with each run. The assets live under versioned URLs, so browsers may keep them
 * forever. Everything is sent straight from static or start-up memory: no copy per request.
 */
#include "graphiql.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tenantql/json_writer.h"
#include "tenantql/strbuf.h"

struct tq_graphiql {
    char *page;
    size_t page_len;
    char *csp; /* Content-Security-Policy of the page, with the boot script's hash */
};

/* ---- the assets ---- */

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static const tq_embedded_file *asset_named(const char *name, size_t len)
{
    for (const tq_embedded_file *f = tq_graphiql_assets; f->name != NULL; f++)
        if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

/* The asset whose versioned name ends in "/file", e.g. "graphiql.min.js". */
static const tq_embedded_file *asset_file(const char *file)
{
    size_t n = strlen(file);
    for (const tq_embedded_file *f = tq_graphiql_assets; f->name != NULL; f++) {
        size_t len = strlen(f->name);
        if (len > n && f->name[len - n - 1] == '/' && strcmp(f->name + len - n, file) == 0)
            return f;
    }
    return NULL;
}

static h2o_iovec_t content_type_of(const char *name, size_t len)
{
    if (has_suffix(name, len, ".js"))
        return h2o_iovec_init(H2O_STRLIT("text/javascript; charset=utf-8"));
    if (has_suffix(name, len, ".css"))
        return h2o_iovec_init(H2O_STRLIT("text/css; charset=utf-8"));
    return h2o_iovec_init(H2O_STRLIT("application/octet-stream"));
}

static bool is_get_or_head(h2o_req_t *req, bool *head)
{
    *head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    return *head || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
}

/* Sends static bytes (they outlive the request, so h2o may write them as they are). */
static void send_static(h2o_req_t *req, const char *data, size_t len, bool head)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.content_length = len;
    if (req->conn->ctx->shutdown_requested)
        req->http1_is_persistent = 0;
    h2o_start_response(req, &generator);
    h2o_iovec_t body = h2o_iovec_init(data, len);
    /* h2o 2.2 leaves HEAD to the handler: headers and length only */
    h2o_send(req, &body, head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

static int on_asset_request(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    h2o_iovec_t path = req->path_normalized;
    size_t prefix = sizeof(TQ_GRAPHIQL_PREFIX "/") - 1;
    if (path.len <= prefix || has_suffix(path.base, path.len, ".gz"))
        return -1;
    const char *name = path.base + prefix;
    size_t name_len = path.len - prefix;
    const tq_embedded_file *f = asset_named(name, name_len);
    if (f == NULL)
        return -1; /* h2o's 404 */
    bool head;
    if (!is_get_or_head(req, &head)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_405(req, "Method Not Allowed", "Method Not Allowed", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    char gz_name[256];
    const tq_embedded_file *gz = NULL;
    if (name_len + 4 <= sizeof(gz_name)) {
        memcpy(gz_name, name, name_len);
        memcpy(gz_name + name_len, ".gz", 3);
        gz = asset_named(gz_name, name_len + 3);
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type_of(name, name_len).base,
                   content_type_of(name, name_len).len);
    /* the version is in the URL: these bytes never change under it */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("public, max-age=31536000, immutable"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    if (gz != NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
        if (tq_accepts_gzip(req)) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT("gzip"));
            f = gz;
        }
    }
    send_static(req, f->data, f->len, head);
    return 0;
}

/* ---- the page ---- */

/* Runs in the browser: reads the configuration block, adds what the URL carries
 * (?query=... links open in the IDE) and starts GraphiQL. */
static const char boot_script[] =
    "(function () {\n"
    "  var config = JSON.parse(document.getElementById('tenantql-config').textContent);\n"
    "  var params = new URLSearchParams(window.location.search);\n"
    "  var props = {\n"
    "    fetcher: GraphiQL.createFetcher({\n"
    "      url: new URL(config.endpoint, window.location.href).href,\n"
    "      enableIncrementalDelivery: false,\n"
    "    }),\n"
    "  };\n"
    "  if (config.defaultQuery) props.defaultQuery = config.defaultQuery;\n"
    "  if (config.defaultHeaders) {\n"
    "    props.defaultHeaders = config.defaultHeaders;\n"
    "    props.defaultEditorToolsVisibility = 'headers';\n"
    "  }\n"
    "  ['query', 'variables', 'operationName'].forEach(function (key) {\n"
    "    if (params.has(key)) props[key] = params.get(key);\n"
    "  });\n"
    "  var root = ReactDOM.createRoot(document.getElementById('graphiql'));\n"
    "  root.render(React.createElement(GraphiQL, props));\n"
    "})();\n";

/* JSON inside <script> must not contain "</script" or "<!--": escaping every '<' is
 * enough, and stays valid JSON. */
static void append_script_json(tq_strbuf *page, const tq_strbuf *json)
{
    for (size_t i = 0; i < json->len; i++) {
        if (json->data[i] == '<')
            tq_strbuf_lit(page, "\\u003c");
        else
            tq_strbuf_putc(page, json->data[i]);
    }
}

static void write_config(tq_strbuf *b, const tq_server_config *cfg)
{
    tq_strbuf_lit(b, "{\"endpoint\":\"/graphql\"");
    if (cfg->graphiql_query != NULL) {
        tq_strbuf_lit(b, ",\"defaultQuery\":");
        tq_json_write_cstr(b, cfg->graphiql_query);
    }
    if (cfg->graphiql_headers != NULL) {
        tq_strbuf_lit(b, ",\"defaultHeaders\":");
        tq_json_write_cstr(b, cfg->graphiql_headers);
    }
    tq_strbuf_putc(b, '}');
}

/* CSP: scripts and styles only from us (plus the boot script, by hash), requests only to
 * us; GraphiQL's fonts and icons are data: URLs and its editors set inline styles. */
static char *page_csp(void)
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)boot_script, sizeof(boot_script) - 1);
    char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), hash, sizeof(hash), sodium_base64_VARIANT_ORIGINAL);
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_strbuf_printf(&b,
                     "default-src 'none'; script-src 'self' 'sha256-%s'; style-src 'self' 'unsafe-inline'; "
                     "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                     "form-action 'none'; frame-ancestors 'none'",
                     b64);
    tq_strbuf_cstr(&b); /* detach hands over the bytes as they are: terminate them first */
    return tq_strbuf_detach(&b, NULL);
}

tq_graphiql *tq_graphiql_new(const tq_server_config *cfg)
{
    const tq_embedded_file *css = asset_file("graphiql.min.css"), *js = asset_file("graphiql.min.js"),
                           *react = asset_file("react.production.min.js"),
                           *react_dom = asset_file("react-dom.production.min.js");
    if (css == NULL || js == NULL || react == NULL || react_dom == NULL)
        return NULL; /* meson.build and this list disagree */
    tq_strbuf config = TQ_STRBUF_INIT, page = TQ_STRBUF_INIT;
    write_config(&config, cfg);
    tq_strbuf_printf(&page,
                     "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>tenantql GraphiQL</title>\n"
                     "<link rel=\"stylesheet\" href=\"" TQ_GRAPHIQL_PREFIX "/%s\">\n"
                     "<style>html, body, #graphiql { height: 100%%; margin: 0; overflow: hidden; }</style>\n"
                     "</head>\n<body>\n<div id=\"graphiql\">Loading GraphiQL...</div>\n"
                     "<script src=\"" TQ_GRAPHIQL_PREFIX "/%s\"></script>\n"
                     "<script src=\"" TQ_GRAPHIQL_PREFIX "/%s\"></script>\n"
                     "<script src=\"" TQ_GRAPHIQL_PREFIX "/%s\"></script>\n"
                     "<script id=\"tenantql-config\" type=\"application/json\">",
                     css->name, react->name, react_dom->name, js->name);
    append_script_json(&page, &config);
    tq_strbuf_lit(&page, "</script>\n<script>");
    tq_strbuf_append(&page, boot_script, sizeof(boot_script) - 1);
    tq_strbuf_lit(&page, "</script>\n</body>\n</html>\n");
    tq_strbuf_free(&config);

    tq_graphiql *g = calloc(1, sizeof(*g));
    g->page = tq_strbuf_detach(&page, &g->page_len);
    g->csp = page_csp();
    return g;
}

void tq_graphiql_free(tq_graphiql *g)
{
    if (g == NULL)
        return;
    free(g->page);
    free(g->csp);
    free(g);
}

bool tq_graphiql_wanted(h2o_req_t *req)
{
    bool head;
    if (!is_get_or_head(req, &head))
        return false;
    unsigned html = tq_accept_score(req, "text/html");
    unsigned json = tq_accept_score(req, "application/json"),
             graphql = tq_accept_score(req, "application/graphql-response+json");
    /* only an explicit text/html wins: a client sending just wildcards wants JSON */
    return tq_accept_score_exact(html) && html > json && html > graphql;
}

void tq_graphiql_send_page(const tq_graphiql *g, h2o_req_t *req)
{
    bool head;
    is_get_or_head(req, &head);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html; charset=utf-8"));
    /* dev's page carries a token that changes with every run */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL, g->csp,
                          strlen(g->csp));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    send_static(req, g->page, g->page_len, head);
}

/* ---- registration ---- */

typedef struct root_handler {
    h2o_handler_t super;
    const tq_graphiql *graphiql;
} root_handler;

static int on_root_request(h2o_handler_t *self, h2o_req_t *req)
{
    root_handler *h = (root_handler *)self;
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/")) || !tq_graphiql_wanted(req))
        return -1;
    tq_graphiql_send_page(h->graphiql, req);
    return 0;
}

void tq_graphiql_register(h2o_hostconf_t *host, const tq_graphiql *g, tq_server *s)
{
    h2o_pathconf_t *assets = h2o_config_register_path(host, TQ_GRAPHIQL_PREFIX, 0);
    tq_hygiene_register(assets, s);
    h2o_handler_t *ah = h2o_create_handler(assets, sizeof(*ah));
    ah->on_req = on_asset_request;
    /* "/" itself is no registered path: it lands in the fallback, with every unknown path */
    root_handler *rh = (root_handler *)h2o_create_handler(&host->fallback_path, sizeof(*rh));
    rh->super.on_req = on_root_request;
    rh->graphiql = g;
}
