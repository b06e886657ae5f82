/*
 * token_cache.c - verified bearer tokens remembered per worker (see token_cache.h).
 *
 * Direct-mapped: a token's slot comes from a hash of its bytes, and a new token simply
 * replaces the slot's previous one. A collision can only cost a re-verification, never
 * give one token another token's claims, because a hit compares the whole token.
 */
#include "tenantql/token_cache.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

typedef struct token_slot {
    char *token;   /* malloc'ed copy, NULL when empty */
    size_t len;
    tq_jwt_claims claims;
} token_slot;

struct tq_token_cache {
    const tq_jwt_verifier *verifier;
    size_t mask;
    token_slot *slots;
};

tq_token_cache *tq_token_cache_new(const tq_jwt_verifier *v, size_t slots)
{
    size_t n = 1;
    while (n < slots)
        n <<= 1;
    tq_token_cache *c = calloc(1, sizeof(*c));
    c->verifier = v;
    c->mask = n - 1;
    c->slots = calloc(n, sizeof(*c->slots));
    return c;
}

void tq_token_cache_free(tq_token_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->slots[i].token);
    free(c->slots);
    free(c);
}

/* FNV-1a: tokens are a few hundred bytes and their signature part is already random */
static size_t token_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

static void remember(token_slot *slot, const char *token, size_t len, const tq_jwt_claims *claims)
{
    char *copy = realloc(slot->token, len);
    if (copy == NULL)
        return;
    memcpy(copy, token, len);
    slot->token = copy;
    slot->len = len;
    slot->claims = *claims;
}

tq_jwt_status tq_token_cache_verify(tq_token_cache *c, const char *token, size_t len, int64_t now,
                                    tq_jwt_claims *out)
{
    token_slot *slot = &c->slots[token_hash(token, len) & c->mask];
    if (slot->token != NULL && slot->len == len && CRYPTO_memcmp(slot->token, token, len) == 0) {
        tq_jwt_status st = tq_jwt_check_time_claims(c->verifier, &slot->claims, now);
        if (st == TQ_JWT_OK)
            *out = slot->claims;
        else
            memset(out, 0, sizeof(*out));
        return st;
    }
    tq_jwt_status st = tq_jwt_verify(c->verifier, token, len, now, out);
    if (st == TQ_JWT_OK)
        remember(slot, token, len, out);
    return st;
}
