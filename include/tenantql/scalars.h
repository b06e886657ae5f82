/*
 * scalars.h - the custom scalars of the tenantql schema, DateTime and Decimal, with
 * the exact input and output rules of the API contract, and the helpers the data
 * sources use to produce their output form from PostgreSQL text.
 */
#ifndef TENANTQL_SCALARS_H
#define TENANTQL_SCALARS_H

#include <stdbool.h>
#include <stddef.h>

#include "tenantql/schema.h"

extern const tq_scalar_ops tq_scalar_datetime;
extern const tq_scalar_ops tq_scalar_decimal;

/* PostgreSQL timestamptz text in UTC ("2024-01-01 01:00:00.037123+00") to the API's
 * DateTime form ("2024-01-01T01:00:00.037Z", sub-milliseconds truncated). out must hold
 * 32 bytes. Returns false when the text is not of that shape. */
bool tq_datetime_from_pg(const char *pg, size_t len, char out[32]);

/* Checks a decimal number text against the contract (JSON number grammar, at most two
 * fractional digits once trailing zeros are dropped, at most 8 integer digits) and
 * writes its canonical form ("-12.5", "0") to out (at least 32 bytes). */
bool tq_decimal_normalize(const char *text, size_t len, char *out, size_t outlen);

#endif
