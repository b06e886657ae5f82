/*
 * token_cache.h - a worker's memory of bearer tokens it has verified.
 *
 * Verifying an HS256 token costs two base64 decodes, two JSON parses and an HMAC per
 * request; clients send the same token on every request. A token seen before is
 * recognised by comparing all of its bytes (in constant time) with the stored copy, and
 * its stored claims are used after the time checks run again, so an expired token is
 * refused exactly as without the cache. Only tokens that verified are stored.
 *
 * One cache per worker thread, used only by that thread: no locks.
 */
#ifndef TENANTQL_TOKEN_CACHE_H
#define TENANTQL_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tenantql/jwt.h"

typedef struct tq_token_cache tq_token_cache;

/* slots: how many tokens are remembered (rounded up to a power of two). The caller owns
 * the cache (tq_token_cache_free); v must outlive it. */
tq_token_cache *tq_token_cache_new(const tq_jwt_verifier *v, size_t slots);
void tq_token_cache_free(tq_token_cache *c);

/* tq_jwt_verify, answered from the cache when the token was verified before. */
tq_jwt_status tq_token_cache_verify(tq_token_cache *c, const char *token, size_t len, int64_t now,
                                    tq_jwt_claims *out);

#endif
