/*
 * uuid.c - canonical UUID text <-> 16 bytes (see uuid.h). The version and variant
 * nibbles are not checked: PostgreSQL accepts any value there, and so must we.
 */
#include "tenantql/uuid.h"

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_dash_position(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

bool tq_uuid_parse(const char *s, size_t len, uint8_t out[16])
{
    if (len != TQ_UUID_TEXT_LEN)
        return false;

    size_t o = 0;
    for (size_t i = 0; i < TQ_UUID_TEXT_LEN;) {
        if (is_dash_position(i)) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        int hi = hex_value((unsigned char)s[i]), lo = hex_value((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[o++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return true;
}

void tq_uuid_format(const uint8_t in[16], char out[TQ_UUID_TEXT_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (is_dash_position(o))
            out[o++] = '-';
        out[o++] = digits[in[i] >> 4];
        out[o++] = digits[in[i] & 15];
    }
    out[o] = '\0';
}

bool tq_uuid_canonicalize(const char *s, size_t len, char out[TQ_UUID_TEXT_SIZE])
{
    uint8_t bytes[16];
    if (!tq_uuid_parse(s, len, bytes))
        return false;
    tq_uuid_format(bytes, out);
    return true;
}
