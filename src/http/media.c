/*
 * media.c - media types in HTTP headers: whether a Content-Type is a given type, and how
 * much an Accept header wants one. /graphql answers JSON or GraphQL-response JSON by the
 * client's Accept, and shows GraphiQL to browsers, so the whole header has to be weighed
 * (q-values, wildcards, charset parameters), not just searched for a substring.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static h2o_iovec_t trim(const char *s, const char *end)
{
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    return h2o_iovec_init(s, (size_t)(end - s));
}

static bool iov_ieq(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && strncasecmp(v.base, s, n) == 0;
}

/* One media type with the parameters we care about: q (thousandths, default 1000) and
 * whether a charset parameter names anything but UTF-8 (which we never produce or read). */
typedef struct media_range {
    h2o_iovec_t type, subtype;
    int q;
    bool foreign_charset;
} media_range;

/* "1", "0.5", "0.125" -> thousandths; anything malformed counts as 1. */
static int parse_q(h2o_iovec_t v)
{
    if (v.len == 0 || (v.base[0] != '0' && v.base[0] != '1'))
        return 1000;
    int q = (v.base[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < v.len && i < 5 && v.base[1] == '.'; i++, scale /= 10) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return 1000;
        q += (v.base[i] - '0') * scale;
    }
    return q > 1000 ? 1000 : q;
}

static void parse_param(media_range *m, h2o_iovec_t param)
{
    const char *eq = memchr(param.base, '=', param.len);
    if (eq == NULL)
        return;
    h2o_iovec_t name = trim(param.base, eq), value = trim(eq + 1, param.base + param.len);
    if (value.len >= 2 && value.base[0] == '"' && value.base[value.len - 1] == '"')
        value = h2o_iovec_init(value.base + 1, value.len - 2);
    if (iov_ieq(name, "q"))
        m->q = parse_q(value);
    else if (iov_ieq(name, "charset"))
        m->foreign_charset = !iov_ieq(value, "utf-8") && !iov_ieq(value, "utf8");
}

/* Parses "type/subtype; a=b; q=0.5" (s..end); false when it is no media type. */
static bool parse_range(const char *s, const char *end, media_range *m)
{
    *m = (media_range){.q = 1000};
    const char *semi = memchr(s, ';', (size_t)(end - s));
    h2o_iovec_t full = trim(s, semi ? semi : end);
    const char *slash = memchr(full.base, '/', full.len);
    if (slash == NULL)
        return false;
    m->type = trim(full.base, slash);
    m->subtype = trim(slash + 1, full.base + full.len);
    if (m->type.len == 0 || m->subtype.len == 0)
        return false;
    while (semi != NULL) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        parse_param(m, h2o_iovec_init(p, (size_t)((semi ? semi : end) - p)));
    }
    return true;
}

bool tq_media_type_is(h2o_iovec_t value, const char *type)
{
    media_range m;
    const char *slash = strchr(type, '/');
    if (value.len == 0 || !parse_range(value.base, value.base + value.len, &m) || m.foreign_charset)
        return false;
    return m.type.len == (size_t)(slash - type) && strncasecmp(m.type.base, type, m.type.len) == 0 &&
           iov_ieq(m.subtype, slash + 1);
}

/* 3 for type/subtype itself, 2 for type/ *, 1 for * / *, 0 when the range does not match. */
static int specificity(const media_range *m, const char *type)
{
    const char *slash = strchr(type, '/');
    bool any_type = iov_ieq(m->type, "*"), any_sub = iov_ieq(m->subtype, "*");
    if (any_type)
        return any_sub ? 1 : 0;
    if (m->type.len != (size_t)(slash - type) || strncasecmp(m->type.base, type, m->type.len) != 0)
        return 0;
    return any_sub ? 2 : iov_ieq(m->subtype, slash + 1) ? 3 : 0;
}

unsigned tq_accept_score(h2o_req_t *req, const char *type)
{
    int best_spec = 0, best_q = 0;
    bool any = false;
    /* several Accept headers are one list (RFC 9110, 5.3) */
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
            media_range m;
            if (parse_range(p, stop, &m)) {
                any = true;
                int spec = m.foreign_charset ? 0 : specificity(&m, type);
                /* the most specific range decides, as RFC 9110 12.5.1 says */
                if (spec > best_spec)
                    best_spec = spec, best_q = m.q;
            }
            p = stop + 1;
        }
    }
    if (!any)
        return 4 * 1000; /* no (usable) Accept: anything goes */
    return best_q == 0 ? 0 : (unsigned)(4 * best_q + (best_spec == 3 ? 2 : 0));
}

bool tq_accept_score_exact(unsigned score)
{
    return (score & 2) != 0;
}

bool tq_accepts_gzip(h2o_req_t *req)
{
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        const char *p = v.base, *end = v.base + v.len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma ? comma : end;
            const char *semi = memchr(p, ';', (size_t)(stop - p));
            h2o_iovec_t coding = trim(p, semi ? semi : stop);
            if (iov_ieq(coding, "gzip") || iov_ieq(coding, "x-gzip")) {
                /* reuse the media parameter reader for "q=": only q=0 refuses */
                media_range m = {.q = 1000};
                while (semi != NULL) {
                    const char *q = semi + 1;
                    semi = memchr(q, ';', (size_t)(stop - q));
                    parse_param(&m, h2o_iovec_init(q, (size_t)((semi ? semi : stop) - q)));
                }
                return m.q > 0;
            }
            p = stop + 1;
        }
    }
    return false;
}
