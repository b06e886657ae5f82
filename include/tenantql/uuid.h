/*
 * uuid.h - UUIDs as the registry, tokens and the GraphQL ID type spell them: only the
 * canonical 36-character 8-4-4-4-12 hex form is accepted (either case; no braces, no
 * "urn:uuid:", no missing dashes), and output is always lowercase.
 */
#ifndef TENANTQL_UUID_H
#define TENANTQL_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TQ_UUID_TEXT_LEN 36
#define TQ_UUID_TEXT_SIZE 37 /* with the NUL */

/* Parses exactly len characters; false unless len is 36 and the form is canonical. */
bool tq_uuid_parse(const char *s, size_t len, uint8_t out[16]);
/* Writes 36 lowercase characters and a NUL. */
void tq_uuid_format(const uint8_t in[16], char out[TQ_UUID_TEXT_SIZE]);
/* Parse then format: the lowercase spelling of s, or false if s is not a canonical uuid. */
bool tq_uuid_canonicalize(const char *s, size_t len, char out[TQ_UUID_TEXT_SIZE]);

#endif
