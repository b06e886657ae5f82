/*
 * client_budget.h - a budget per client address for the requests that come without a
 * token (introspection, login, and whatever is refused before a tenant is known): a
 * token bucket per address, shared by all worker threads, in a table of fixed size.
 *
 * Addresses: an IPv4 address is one client; an IPv6 client is its /64 (a host usually
 * holds a whole /64 and can pick any address in it), and an IPv4-mapped IPv6 address is
 * the IPv4 address.
 *
 * A full table never refuses anyone. The table is split into sets of a few entries, and
 * an address new to its set takes an entry that has nothing to lose - free, or whose
 * bucket has refilled to the brim - or else the entry seen longest ago, whose address
 * then starts again with a full bucket. Filling the table can therefore only give
 * addresses a fresh budget, never take one away: nobody can be locked out by it, and
 * the one gain is for a client with more addresses than the table has entries, who has
 * that many budgets anyway.
 */
#ifndef TENANTQL_CLIENT_BUDGET_H
#define TENANTQL_CLIENT_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct tq_client_budget tq_client_budget;

/* The client an address counts as: 1 byte of family and 8 of address (or prefix). */
typedef struct tq_client_key {
    uint8_t bytes[9];
} tq_client_key;

/* The key of a peer address; false for families other than IPv4 and IPv6. */
bool tq_client_key_of(const struct sockaddr *sa, tq_client_key *out);

/* rate units per second, burst units at most, in about `entries` addresses (at least one
 * set). Needs sodium_init() first. NULL when out of memory; the caller owns it. */
tq_client_budget *tq_client_budget_new(double rate, double burst, size_t entries);
void tq_client_budget_free(tq_client_budget *cb);

/* Takes cost units from key's budget at now_ms (tq_clock_ms): 0 when they were there,
 * else the whole seconds (>= 1) until they will be (nothing is taken). Thread-safe. */
int tq_client_budget_take(tq_client_budget *cb, const tq_client_key *key, double cost, uint64_t now_ms);

#endif
