/* test_base64url_uuid.c - strict base64url (RFC 4648 vectors, round trips, rejects) and canonical uuids. */
#include "tenantql/base64url.h"
#include "tenantql/uuid.h"
#include "tq_test.h"

static char enc_buf[256];

static const char *enc(const void *in, size_t n)
{
    size_t len = tq_base64url_encode(in, n, enc_buf);
    enc_buf[len] = '\0';
    return enc_buf;
}

/* decode() and valid() must agree; returns whether the input was accepted. */
static int dec_ok(const char *in, size_t len)
{
    uint8_t out[256];
    size_t n;
    int ok = tq_base64url_decode(in, len, out, &n);
    CHECK(ok == (int)tq_base64url_valid(in, len));
    if (ok)
        CHECK(n == tq_base64url_decoded_len(len));
    return ok;
}

static void test_vectors(void)
{
    CHECK_STR(enc("", 0), "");
    CHECK_STR(enc("f", 1), "Zg");
    CHECK_STR(enc("fo", 2), "Zm8");
    CHECK_STR(enc("foo", 3), "Zm9v");
    CHECK_STR(enc("foob", 4), "Zm9vYg");
    CHECK_STR(enc("fooba", 5), "Zm9vYmE");
    CHECK_STR(enc("foobar", 6), "Zm9vYmFy");
    CHECK_STR(enc("\xfb\xff", 2), "-_8");
    CHECK_STR(enc("\xff\xff\xfe", 3), "___-");

    uint8_t out[16];
    size_t n = 99;
    CHECK(tq_base64url_decode("Zm9vYmE", 7, out, &n) && n == 5 && memcmp(out, "fooba", 5) == 0);
    CHECK(tq_base64url_decode("-_8", 3, out, &n) && n == 2 && out[0] == 0xfb && out[1] == 0xff);
    CHECK(tq_base64url_decode("", 0, out, &n) && n == 0);
}

static void test_round_trips(void)
{
    uint8_t in[100], out[100];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 151 + 7);
    int bad = 0;
    for (size_t len = 0; len <= sizeof(in); len++) {
        char text[200];
        size_t tl = tq_base64url_encode(in, len, text), n = 0;
        if (tl != tq_base64url_encoded_len(len) || !tq_base64url_valid(text, tl) ||
            !tq_base64url_decode(text, tl, out, &n) || n != len || memcmp(in, out, len) != 0)
            bad++;
    }
    CHECK(bad == 0);
}

static void test_rejects(void)
{
    CHECK(dec_ok("Zm9v", 4));
    CHECK(!dec_ok("Zg==", 4));      /* padding */
    CHECK(!dec_ok("Zg=", 3));
    CHECK(!dec_ok("Z", 1));         /* len % 4 == 1 */
    CHECK(!dec_ok("Zm9vY", 5));
    CHECK(!dec_ok("Zh", 2));        /* 'h' leaves non-zero unused bits */
    CHECK(!dec_ok("Zm9", 3));       /* '9' likewise */
    CHECK(dec_ok("Zm8", 3));
    CHECK(!dec_ok("Zm+v", 4));      /* the standard alphabet is not the URL-safe one */
    CHECK(!dec_ok("Zm/v", 4));
    CHECK(!dec_ok("Zm9v\n", 5));
    CHECK(!dec_ok(" Zm9v", 5));
    CHECK(!dec_ok("Zm\0v", 4));
    CHECK(!dec_ok("Zm9\xc3", 4));
    CHECK(!dec_ok("Zm9.", 4));
}

static void test_uuid(void)
{
    uint8_t b[16], b2[16];
    char text[TQ_UUID_TEXT_SIZE];
    const char *lower = "3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f70";

    CHECK(tq_uuid_parse(lower, 36, b));
    CHECK(b[0] == 0x3f && b[15] == 0x70);
    tq_uuid_format(b, text);
    CHECK_STR(text, lower);
    CHECK(tq_uuid_parse("3F2C1A4E-9B7D-4C2E-8F1A-2B3C4D5E6F70", 36, b2) && memcmp(b, b2, 16) == 0);
    CHECK(tq_uuid_canonicalize("3F2c1A4e-9B7D-4c2E-8F1A-2B3C4D5E6F70", 36, text));
    CHECK_STR(text, lower);
    CHECK(tq_uuid_canonicalize("00000000-0000-0000-0000-000000000000", 36, text));
    CHECK(tq_uuid_canonicalize("ffffffff-ffff-ffff-ffff-ffffffffffff", 36, text));

    /* length is taken from len, not from a NUL */
    CHECK(tq_uuid_parse("3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f70xyz", 36, b));
    CHECK(!tq_uuid_parse(lower, 35, b));
    CHECK(!tq_uuid_parse("3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f700", 37, b));
    CHECK(!tq_uuid_parse("{3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f7}", 38, b));
    CHECK(!tq_uuid_parse("3f2c1a4e9b7d4c2e8f1a2b3c4d5e6f70", 32, b));
    CHECK(!tq_uuid_parse("3f2c1a4e9-b7d-4c2e-8f1a-2b3c4d5e6f70", 36, b));
    CHECK(!tq_uuid_parse("3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f7g", 36, b));
    CHECK(!tq_uuid_parse("3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f7 ", 36, b));
    CHECK(!tq_uuid_parse(" 3f2c1a4e-9b7d-4c2e-8f1a-2b3c4d5e6f7", 36, b));
    CHECK(!tq_uuid_parse("3f2c1a4e-9b7d-4c2e-8f1a\0002b3c4d5e6f70", 36, b));
    CHECK(!tq_uuid_parse("3f2c1a4e+9b7d-4c2e-8f1a-2b3c4d5e6f70", 36, b));
    CHECK(!tq_uuid_parse("urn:uuid:3f2c1a4e-9b7d-4c2e-8f1a-2b3c", 36, b));
    CHECK(!tq_uuid_canonicalize("acme", 4, text));
    CHECK(!tq_uuid_canonicalize("", 0, text));

    int bad = 0;
    for (int k = 0; k < 256; k++) {
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(k * 31 + i * 17);
        tq_uuid_format(b, text);
        if (strlen(text) != 36 || !tq_uuid_parse(text, 36, b2) || memcmp(b, b2, 16) != 0)
            bad++;
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_vectors();
    test_round_trips();
    test_rejects();
    test_uuid();
    return TQ_TEST_REPORT();
}
