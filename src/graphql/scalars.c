/*
 * scalars.c - built-in scalars (Int, Float, String, Boolean, ID) with graphql-js's
 * coercion rules and messages, and the contract's DateTime and Decimal.
 */
#include "tenantql/scalars.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static tq_value str_value(tq_arena *a, const char *s, size_t len)
{
    return tq_value_string(tq_arena_strndup(a, s, len), (uint32_t)len);
}

/* Writes a double the way JavaScript's String(n) does for the cases that matter here:
 * integers without a fraction, others with the shortest round-trip digits. */
static void format_number(double v, char *out, size_t outlen)
{
    if (v == floor(v) && fabs(v) < 1e21) {
        snprintf(out, outlen, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* ---- Int ---- */

static int int_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    char buf[64];
    if (in->kind == TQ_VAL_BOOL) {
        *out = tq_value_int(in->u.b);
        return 0;
    }
    if (in->kind == TQ_VAL_FLOAT) {
        if (in->u.f != floor(in->u.f) || !isfinite(in->u.f)) {
            format_number(in->u.f, buf, sizeof(buf));
            return errf(err, errlen, "Int cannot represent non-integer value: %s", buf);
        }
        *out = tq_value_int((int64_t)in->u.f);
    } else if (in->kind == TQ_VAL_INT) {
        *out = *in;
    } else {
        return errf(err, errlen, "Int cannot represent non-integer value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "?");
    }
    if (out->u.i < INT32_MIN || out->u.i > INT32_MAX) {
        snprintf(buf, sizeof(buf), "%lld", (long long)out->u.i);
        return errf(err, errlen, "Int cannot represent non 32-bit signed integer value: %s", buf);
    }
    return 0;
}

static int int_from_text(const char *text, tq_value *out, char *err, size_t errlen)
{
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno != 0 || v < INT32_MIN || v > INT32_MAX)
        return errf(err, errlen, "Int cannot represent non 32-bit signed integer value: %s", text);
    *out = tq_value_int(v);
    return 0;
}

static int int_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_INT)
        return errf(err, errlen, "Int cannot represent non-integer value: %s",
                    lit->kind == TQ_GQL_VALUE_FLOAT || lit->kind == TQ_GQL_VALUE_ENUM ? lit->u.str.s : "(non-number)");
    return int_from_text(lit->u.str.s, out, err, errlen);
}

static int int_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    char buf[64];
    if (in->kind == TQ_VAL_INT) {
        if (in->u.i < INT32_MIN || in->u.i > INT32_MAX) {
            snprintf(buf, sizeof(buf), "%lld", (long long)in->u.i);
            return errf(err, errlen, "Int cannot represent non 32-bit signed integer value: %s", buf);
        }
        *out = *in;
        return 0;
    }
    if (in->kind == TQ_VAL_FLOAT && in->u.f == floor(in->u.f) && fabs(in->u.f) <= 2147483648.0) {
        format_number(in->u.f, buf, sizeof(buf));
        return int_from_text(buf, out, err, errlen);
    }
    if (in->kind == TQ_VAL_FLOAT) {
        format_number(in->u.f, buf, sizeof(buf));
        return errf(err, errlen, in->u.f == floor(in->u.f) ? "Int cannot represent non 32-bit signed integer value: %s"
                                                             : "Int cannot represent non-integer value: %s", buf);
    }
    return errf(err, errlen, "Int cannot represent non-integer value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "(non-number)");
}

const tq_scalar_ops tq_scalar_int = {int_serialize, int_literal, int_value};

/* ---- Float ---- */

static int float_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_INT) {
        *out = (tq_value){.kind = TQ_VAL_FLOAT, .u.f = (double)in->u.i};
        return 0;
    }
    if (in->kind == TQ_VAL_FLOAT && isfinite(in->u.f)) {
        *out = *in;
        return 0;
    }
    if (in->kind == TQ_VAL_BOOL) {
        *out = (tq_value){.kind = TQ_VAL_FLOAT, .u.f = in->u.b ? 1.0 : 0.0};
        return 0;
    }
    return errf(err, errlen, "Float cannot represent non numeric value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "?");
}

static int float_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_INT && lit->kind != TQ_GQL_VALUE_FLOAT)
        return errf(err, errlen, "Float cannot represent non numeric value: %s", lit->kind == TQ_GQL_VALUE_ENUM ? lit->u.str.s : "(non-number)");
    double d = strtod(lit->u.str.s, NULL);
    if (!isfinite(d))
        return errf(err, errlen, "Float cannot represent non numeric value: %s", lit->u.str.s);
    *out = (tq_value){.kind = TQ_VAL_FLOAT, .u.f = d};
    return 0;
}

static int float_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_INT)
        return *out = (tq_value){.kind = TQ_VAL_FLOAT, .u.f = (double)in->u.i}, 0;
    if (in->kind == TQ_VAL_FLOAT)
        return *out = *in, 0;
    return errf(err, errlen, "Float cannot represent non numeric value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "(non-number)");
}

const tq_scalar_ops tq_scalar_float = {float_serialize, float_literal, float_value};

/* ---- String ---- */

static int string_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    char buf[64];
    switch (in->kind) {
    case TQ_VAL_STRING:
        *out = *in;
        return 0;
    case TQ_VAL_BOOL:
        *out = tq_value_string(in->u.b ? "true" : "false", in->u.b ? 4 : 5);
        return 0;
    case TQ_VAL_INT:
        snprintf(buf, sizeof(buf), "%lld", (long long)in->u.i);
        *out = str_value(a, buf, strlen(buf));
        return 0;
    case TQ_VAL_FLOAT:
        format_number(in->u.f, buf, sizeof(buf));
        *out = str_value(a, buf, strlen(buf));
        return 0;
    default:
        return errf(err, errlen, "String cannot represent value: %s", "(non-scalar)");
    }
}

static int string_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_STRING)
        return errf(err, errlen, "String cannot represent a non string value: %s",
                    lit->kind == TQ_GQL_VALUE_INT || lit->kind == TQ_GQL_VALUE_FLOAT || lit->kind == TQ_GQL_VALUE_ENUM ? lit->u.str.s : "(non-string)");
    *out = tq_value_string(lit->u.str.s, lit->u.str.len);
    return 0;
}

static int string_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind != TQ_VAL_STRING)
        return errf(err, errlen, "String cannot represent a non string value: %s", "(non-string)");
    *out = *in;
    return 0;
}

const tq_scalar_ops tq_scalar_string = {string_serialize, string_literal, string_value};

/* ---- Boolean ---- */

static int boolean_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_BOOL)
        return *out = *in, 0;
    if (in->kind == TQ_VAL_INT)
        return *out = tq_value_bool(in->u.i != 0), 0;
    return errf(err, errlen, "Boolean cannot represent a non boolean value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "?");
}

static int boolean_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_BOOLEAN)
        return errf(err, errlen, "Boolean cannot represent a non boolean value: %s",
                    lit->kind == TQ_GQL_VALUE_INT || lit->kind == TQ_GQL_VALUE_FLOAT || lit->kind == TQ_GQL_VALUE_ENUM || lit->kind == TQ_GQL_VALUE_STRING ? lit->u.str.s : "(non-boolean)");
    return *out = tq_value_bool(lit->u.boolean), 0;
}

static int boolean_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind != TQ_VAL_BOOL)
        return errf(err, errlen, "Boolean cannot represent a non boolean value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "(non-boolean)");
    return *out = *in, 0;
}

const tq_scalar_ops tq_scalar_boolean = {boolean_serialize, boolean_literal, boolean_value};

/* ---- ID ---- */

static int id_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_STRING)
        return *out = *in, 0;
    if (in->kind == TQ_VAL_INT)
        return string_serialize(a, in, out, err, errlen);
    return errf(err, errlen, "ID cannot represent value: %s", "(non-scalar)");
}

static int id_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_STRING && lit->kind != TQ_GQL_VALUE_INT)
        return errf(err, errlen, "ID cannot represent a non-string and non-integer value: %s",
                    lit->kind == TQ_GQL_VALUE_FLOAT || lit->kind == TQ_GQL_VALUE_ENUM ? lit->u.str.s : "(non-string)");
    return *out = tq_value_string(lit->u.str.s, lit->u.str.len), 0;
}

static int id_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_STRING)
        return *out = *in, 0;
    if (in->kind == TQ_VAL_INT || (in->kind == TQ_VAL_FLOAT && in->u.f == floor(in->u.f)))
        return string_serialize(a, in, out, err, errlen);
    return errf(err, errlen, "ID cannot represent value: %s", "(non-string)");
}

const tq_scalar_ops tq_scalar_id = {id_serialize, id_literal, id_value};

/* ---- DateTime ---- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool tq_datetime_from_pg(const char *pg, size_t len, char out[32])
{
    /* "YYYY-MM-DD HH:MM:SS[.ffffff]+00" */
    if (len < 22 || !digits(pg, 4) || pg[4] != '-' || pg[10] != ' ' || pg[13] != ':' || pg[16] != ':')
        return false;
    memcpy(out, pg, 19);
    out[10] = 'T';
    char ms[3] = {'0', '0', '0'};
    size_t i = 19;
    if (i < len && pg[i] == '.') {
        for (int k = 0; ++i < len && pg[i] >= '0' && pg[i] <= '9'; k++)
            if (k < 3)
                ms[k] = pg[i];
    }
    if (len - i != 3 || memcmp(pg + i, "+00", 3) != 0)
        return false;
    out[19] = '.';
    memcpy(out + 20, ms, 3);
    out[23] = 'Z';
    out[24] = '\0';
    return true;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static bool datetime_valid(const char *s, size_t len)
{
    if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
        !digits(s + 17, 2))
        return false;
    int month = (s[5] - '0') * 10 + s[6] - '0', day = (s[8] - '0') * 10 + s[9] - '0';
    int hour = (s[11] - '0') * 10 + s[12] - '0', minute = (s[14] - '0') * 10 + s[15] - '0';
    int second = (s[17] - '0') * 10 + s[18] - '0';
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    return len - i == 6 && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
           digits(s + i + 4, 2);
}

static int datetime_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind != TQ_VAL_STRING)
        return errf(err, errlen, "DateTime cannot represent value: %s", "(non-string)");
    return *out = *in, 0;
}

static int datetime_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_STRING || !datetime_valid(lit->u.str.s, lit->u.str.len))
        return errf(err, errlen, "DateTime cannot represent value: %s", "expected an RFC 3339 date-time string");
    return *out = tq_value_string(lit->u.str.s, lit->u.str.len), 0;
}

static int datetime_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind != TQ_VAL_STRING || !datetime_valid(in->u.s.s, in->u.s.len))
        return errf(err, errlen, "DateTime cannot represent value: %s", "expected an RFC 3339 date-time string");
    return *out = *in, 0;
}

const tq_scalar_ops tq_scalar_datetime = {datetime_serialize, datetime_literal, datetime_value};

/* ---- Decimal ---- */

bool tq_decimal_normalize(const char *text, size_t len, char *out, size_t outlen)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && text[i] == '-')
        neg = true, i++;
    size_t int_start = i;
    if (i < len && text[i] == '0')
        i++;
    else if (i < len && text[i] >= '1' && text[i] <= '9')
        while (i < len && text[i] >= '0' && text[i] <= '9')
            i++;
    else
        return false;
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < len && text[i] == '.') {
        frac_start = ++i;
        while (i < len && text[i] >= '0' && text[i] <= '9')
            i++;
        if (i == frac_start)
            return false;
        frac_end = i;
    }
    long exp = 0;
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (text[i] == '+' || text[i] == '-'))
            eneg = text[i++] == '-';
        size_t es = i;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            if (exp < 100000)
                exp = exp * 10 + (text[i] - '0');
            i++;
        }
        if (i == es)
            return false;
        if (eneg)
            exp = -exp;
    }
    if (i != len)
        return false;

    /* all significant digits, and where the decimal point falls among them */
    char dig[128];
    size_t nd = 0;
    for (size_t k = int_start; k < int_end; k++)
        if (nd < sizeof(dig))
            dig[nd++] = text[k];
    for (size_t k = frac_start; k < frac_end; k++)
        if (nd < sizeof(dig))
            dig[nd++] = text[k];
    if ((int_end - int_start) + (frac_end - frac_start) > sizeof(dig))
        return false;
    long point = (long)(int_end - int_start) + exp;
    size_t lead = 0;
    while (lead < nd && dig[lead] == '0')
        lead++;
    while (nd > lead && dig[nd - 1] == '0')
        nd--;
    if (lead == nd) {
        snprintf(out, outlen, "0");
        return true;
    }
    long first = (long)lead, last = (long)nd; /* significant digits are dig[first..last) */
    long int_digits = point - first;          /* digits before the point, from the first significant */
    long frac_digits = last - point;          /* digits after the point, up to the last significant */
    if (int_digits > 8 || frac_digits > 2)
        return false;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (int_digits <= 0)
        *o++ = '0';
    for (long k = first; k < point; k++)
        *o++ = k < last ? dig[k] : '0';
    if (frac_digits > 0) {
        *o++ = '.';
        for (long k = point; k < last; k++)
            *o++ = k >= first ? dig[k] : '0';
    }
    *o = '\0';
    (void)outlen;
    return true;
}

static int decimal_serialize(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    if (in->kind == TQ_VAL_STRING && !(in->u.s.len == 3 && memcmp(in->u.s.s, "NaN", 3) == 0))
        return *out = *in, 0;
    return errf(err, errlen, "Decimal cannot represent value: %s", in->kind == TQ_VAL_STRING ? in->u.s.s : "(non-decimal)");
}

static int decimal_from_text(tq_arena *a, const char *text, size_t len, tq_value *out, char *err, size_t errlen)
{
    char canon[48];
    if (!tq_decimal_normalize(text, len, canon, sizeof(canon)))
        return errf(err, errlen,
                    "Decimal cannot represent value: %s (expected a number with at most 8 integer and 2 fractional digits)",
                    tq_arena_strndup(a, text, len > 40 ? 40 : len));
    *out = str_value(a, canon, strlen(canon));
    return 0;
}

static int decimal_literal(tq_arena *a, const tq_gql_value *lit, tq_value *out, char *err, size_t errlen)
{
    if (lit->kind != TQ_GQL_VALUE_STRING && lit->kind != TQ_GQL_VALUE_INT && lit->kind != TQ_GQL_VALUE_FLOAT)
        return errf(err, errlen, "Decimal cannot represent value: %s", lit->kind == TQ_GQL_VALUE_ENUM ? lit->u.str.s : "(non-number)");
    return decimal_from_text(a, lit->u.str.s, lit->u.str.len, out, err, errlen);
}

static int decimal_value(tq_arena *a, const tq_value *in, tq_value *out, char *err, size_t errlen)
{
    char buf[64];
    switch (in->kind) {
    case TQ_VAL_STRING:
        return decimal_from_text(a, in->u.s.s, in->u.s.len, out, err, errlen);
    case TQ_VAL_INT:
        snprintf(buf, sizeof(buf), "%lld", (long long)in->u.i);
        return decimal_from_text(a, buf, strlen(buf), out, err, errlen);
    case TQ_VAL_FLOAT:
        format_number(in->u.f, buf, sizeof(buf));
        return decimal_from_text(a, buf, strlen(buf), out, err, errlen);
    default:
        return errf(err, errlen, "Decimal cannot represent value: %s", "(non-number)");
    }
}

const tq_scalar_ops tq_scalar_decimal = {decimal_serialize, decimal_literal, decimal_value};
