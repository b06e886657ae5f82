/*
 * base64url.h - the URL-safe base64 alphabet of RFC 4648 section 5, as JWTs use it:
 * encoding never pads, decoding is strict so that one byte string has exactly one
 * accepted spelling (no '=', no whitespace, no stray bits in the last character).
 */
#ifndef TENANTQL_BASE64URL_H
#define TENANTQL_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of characters tq_base64url_encode writes for n input bytes. */
static inline size_t tq_base64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Number of bytes a valid encoding of len characters decodes to. */
static inline size_t tq_base64url_decoded_len(size_t len)
{
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

/* Writes tq_base64url_encoded_len(n) characters (no NUL) and returns that count. */
size_t tq_base64url_encode(const void *in, size_t n, char *out);

/*
 * Decodes len characters into out, which must hold tq_base64url_decoded_len(len) bytes.
 * Refuses characters outside A-Z a-z 0-9 - _ (padding included), lengths with
 * len % 4 == 1, and non-zero unused bits in the last character. The empty string
 * decodes to zero bytes. On failure out may have been partly written.
 */
bool tq_base64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);

/* The checks of tq_base64url_decode without decoding. */
bool tq_base64url_valid(const char *in, size_t len);

#endif
