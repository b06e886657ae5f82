/*
 * base64url.c - strict URL-safe base64 without padding (see base64url.h).
 */
#include "tenantql/base64url.h"

static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Sextet value of c, or -1. Ranges instead of a table keep the file free of magic data. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t tq_base64url_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    char *o = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
    }
    return (size_t)(o - out);
}

/*
 * The last character of a 2- or 3-character tail carries 4 or 2 bits that no byte
 * uses; accepting them non-zero would give one token several spellings.
 */
static bool tail_bits_clear(const char *in, size_t len)
{
    size_t rest = len % 4;
    if (rest == 0)
        return true;
    int last = sextet((unsigned char)in[len - 1]);
    return rest == 2 ? (last & 0x0f) == 0 : (last & 0x03) == 0;
}

bool tq_base64url_valid(const char *in, size_t len)
{
    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (sextet((unsigned char)in[i]) < 0)
            return false;
    return tail_bits_clear(in, len);
}

bool tq_base64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
    if (len % 4 == 1)
        return false;

    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet((unsigned char)in[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* the unused low bits of the last character */
        return false;
    *outlen = o;
    return true;
}
