/*
 * test_budget.c - the execution budget (src/graphql/budget.c) on a small schema with a
 * list of each kind (sized by an integer argument, by a list argument's length, fixed):
 * depth, field selections, aliases and cost, with variables, their defaults and the
 * arguments' defaults, @skip and @include, fragments measured once however often they
 * are spread (and numbers saturating rather than overflowing), introspection sized by
 * the schema, and schemas whose lists have no size refused.
 */
#include <jansson.h>
#include <stdlib.h>

#include "tenantql/budget.h"
#include "tenantql/parser.h"
#include "tenantql/schema.h"
#include "tq_test.h"

static const char sdl[] = "type Item { id: ID! name: String tags: [String!] children(first: Int = 5): [Item!]! }\n"
                          "type Query {\n"
                          "  item: Item\n"
                          "  items(first: Int = 10): [Item!]!\n"
                          "  byIds(ids: [ID!]!): [Item]!\n"
                          "  search(first: Int = 2): [Item!]!\n"
                          "}\n";

static const tq_budget_list_size sizes[] = {
    {"Query.items", TQ_BUDGET_SIZE_ARG, "first", 1, 50},  {"Query.byIds", TQ_BUDGET_SIZE_LENGTH, "ids", 1, 100},
    {"Query.search", TQ_BUDGET_SIZE_ARG, "first", 2, 50}, {"Item.children", TQ_BUDGET_SIZE_ARG, "first", 1, 50},
    {"Item.tags", TQ_BUDGET_SIZE_FIXED, NULL, 3, 3},      {NULL, 0, NULL, 0, 0},
};

static tq_schema *schema;
static tq_budget_schema *budget;

/* The measure of the document's first operation with variables given as JSON text (or
 * NULL). */
static tq_budget_measure measure(const char *text, const char *variables)
{
    tq_budget_measure none = {{0}};
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_gql_parse_options o = {.allow_type_system = false};
    tq_gql_parse_error e;
    tq_gql_document *doc = tq_gql_parse(&a, text, strlen(text), &o, &e);
    CHECK(doc != NULL);
    if (doc == NULL) {
        fprintf(stderr, "cannot parse %s: %s\n", text, e.message);
        tq_arena_free(&a);
        return none;
    }
    json_t *vars = variables ? json_loads(variables, 0, NULL) : NULL;
    tq_budget_measure m = tq_budget_measure_operation(budget, doc, &doc->defs[0].u.operation, vars, &a);
    json_decref(vars);
    tq_arena_free(&a);
    return m;
}

#define CHECK_MEASURE(text, vars, depth, fields, aliases, cost)                                                        \
    do {                                                                                                               \
        tq_budget_measure m_ = measure((text), (vars));                                                                \
        CHECK(m_.value[TQ_LIMIT_DEPTH] == (depth));                                                                    \
        CHECK(m_.value[TQ_LIMIT_FIELDS] == (fields));                                                                  \
        CHECK(m_.value[TQ_LIMIT_ALIASES] == (aliases));                                                                \
        CHECK(m_.value[TQ_LIMIT_COST] == (cost));                                                                      \
        if (m_.value[TQ_LIMIT_COST] != (cost))                                                                         \
            fprintf(stderr, "  %s: cost %llu\n", (text), (unsigned long long)m_.value[TQ_LIMIT_COST]);                 \
    } while (0)

static uint64_t cost_of(const char *text, const char *vars)
{
    return measure(text, vars).value[TQ_LIMIT_COST];
}

static void test_fields_and_lists(void)
{
    CHECK_MEASURE("{ item { id name } }", NULL, 2, 3, 0, 3);
    CHECK_MEASURE("{ __typename item { __typename } }", NULL, 2, 3, 0, 3);
    CHECK_MEASURE("{ a: item { b: id } c: item { id } }", NULL, 2, 4, 3, 4);
    /* a list multiplies its selections by its size: the argument's default */
    CHECK_MEASURE("{ items { id } }", NULL, 2, 2, 0, 1 + 10);
    /* 3 items, each with 5 children (the default) */
    CHECK_MEASURE("{ items(first: 3) { id children { id } } }", NULL, 3, 4, 0, 1 + 3 * (1 + 1 + 5));
    CHECK(cost_of("{ search(first: 4) { id } }", NULL) == 1 + 2 * 4);
    CHECK(cost_of("{ byIds(ids: [\"a\", \"b\", \"c\"]) { id name } }", NULL) == 1 + 3 * 2);
    CHECK(cost_of("{ byIds(ids: \"a\") { id } }", NULL) == 1 + 1);
    /* a leaf list costs one, like any leaf */
    CHECK(cost_of("{ item { tags } }", NULL) == 2);
    /* inline fragments add their fields; nothing is merged */
    CHECK_MEASURE("{ item { id ... on Item { id name } } }", NULL, 2, 4, 0, 4);
}

static void test_variables(void)
{
    const char *q = "query($n: Int) { items(first: $n) { id } }";
    CHECK(cost_of(q, "{\"n\": 7}") == 1 + 7);
    CHECK(cost_of(q, NULL) == 1 + 10);            /* absent: the argument's default */
    CHECK(cost_of(q, "{\"n\": 7.0}") == 1 + 7);   /* an integral float is an Int */
    CHECK(cost_of(q, "{\"n\": 1000}") == 1 + 50); /* more than the field takes: the most it returns */
    CHECK(cost_of(q, "{\"n\": -3}") == 1);
    CHECK(cost_of(q, "{\"n\": null}") == 1 + 50); /* unreadable: the most */
    CHECK(cost_of("query($n: Int = 4) { items(first: $n) { id } }", NULL) == 1 + 4);
    CHECK(cost_of("query($n: Int = 4) { items(first: $n) { id } }", "{\"n\": 2}") == 1 + 2);
    const char *ids = "query($ids: [ID!]!) { byIds(ids: $ids) { id } }";
    CHECK(cost_of(ids, "{\"ids\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}") == 1 + 5);
    CHECK(cost_of(ids, "{\"ids\": \"a\"}") == 1 + 1);
    CHECK(cost_of(ids, "{\"ids\": null}") == 1);
    CHECK(cost_of("query($a: ID!) { byIds(ids: [$a, $a]) { id } }", "{\"a\": \"x\"}") == 1 + 2);
    /* 150 ids: the field answers at most 100 */
    char many[2048] = "{\"ids\": [";
    for (int i = 0; i < 150; i++)
        strcat(many, i ? ",\"x\"" : "\"x\"");
    strcat(many, "]}");
    CHECK(cost_of(ids, many) == 1 + 100);
}

static void test_skip_include(void)
{
    CHECK_MEASURE("{ item { id @skip(if: true) name @include(if: true) } }", NULL, 2, 2, 0, 2);
    const char *q = "query($s: Boolean!) { item { id @include(if: $s) } }";
    CHECK(measure(q, "{\"s\": false}").value[TQ_LIMIT_FIELDS] == 1);
    CHECK(measure(q, "{\"s\": true}").value[TQ_LIMIT_FIELDS] == 2);
    CHECK(measure("query($s: Boolean = false) { item { ...F @include(if: $s) } } fragment F on Item { id }", NULL)
              .value[TQ_LIMIT_FIELDS] == 1);
}

/* Fragments nested levels deep, each spreading the one below twice: measured once each. */
static char *doubling(int levels)
{
    size_t cap = 256 + (size_t)levels * 128, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "{ item { ...F%d } }\nfragment F0 on Item { id }\n", levels);
    for (int k = 1; k <= levels; k++)
        len += (size_t)snprintf(
            text + len, cap - len,
            "fragment F%d on Item { a: children(first: 1) { ...F%d } b: children(first: 1) { ...F%d } }\n", k, k - 1,
            k - 1);
    return text;
}

static void test_fragments(void)
{
    char *text = doubling(20);
    uint64_t fields = 1, aliases = 0, cost = 1;
    for (int k = 1; k <= 20; k++) {
        fields = 2 * (1 + fields);
        aliases = 2 + 2 * aliases;
        cost = 2 * (1 + 1 * cost);
    }
    CHECK_MEASURE(text, NULL, 1 + 20 + 1, 1 + fields, aliases, 1 + cost);
    free(text);
    /* 60 levels: 2^60 fields and more, saturated */
    text = doubling(60);
    tq_budget_measure m = measure(text, NULL);
    free(text);
    CHECK(m.value[TQ_LIMIT_DEPTH] == 62);
    CHECK(m.value[TQ_LIMIT_FIELDS] == TQ_BUDGET_SATURATED);
    CHECK(m.value[TQ_LIMIT_COST] == TQ_BUDGET_SATURATED);
    /* a fragment within itself (validation refuses it) or unknown counts nothing */
    CHECK_MEASURE("{ item { id ...X ...Nope } } fragment X on Item { name ...X }", NULL, 2, 3, 0, 3);
}

static void test_introspection(void)
{
    CHECK(cost_of("{ __schema { types { name } } }", NULL) == 1 + (1 + schema->nlisted_types));
    uint32_t most_fields = 0;
    for (uint32_t i = 0; i < schema->nlisted_types; i++)
        if (schema->listed_types[i]->nfields > most_fields)
            most_fields = schema->listed_types[i]->nfields;
    CHECK(cost_of("{ __type(name: \"Item\") { fields { name } } }", NULL) == 1 + (1 + most_fields));
    CHECK(measure("{ __type(name: \"Item\") { name ofType { ofType { name } } } }", NULL).value[TQ_LIMIT_DEPTH] == 4);
}

static void test_schema_sizes(void)
{
    char err[256];
    static const tq_budget_list_size missing[] = {
        {"Query.items", TQ_BUDGET_SIZE_ARG, "first", 1, 50},
        {NULL, 0, NULL, 0, 0},
    };
    tq_budget_schema *bs = tq_budget_schema_new(schema, missing, err, sizeof(err));
    CHECK(bs == NULL && strstr(err, "has no size") != NULL);
    static const tq_budget_list_size unknown[] = {
        {"Query.nope", TQ_BUDGET_SIZE_FIXED, NULL, 1, 1},
        {NULL, 0, NULL, 0, 0},
    };
    bs = tq_budget_schema_new(schema, unknown, err, sizeof(err));
    CHECK(bs == NULL && strstr(err, "Query.nope") != NULL);
    CHECK_STR(tq_budget_limit_name(TQ_LIMIT_ALIASES), "aliases");
}

int main(void)
{
    char err[256];
    schema = tq_schema_build(sdl, sizeof(sdl) - 1, NULL, NULL, err, sizeof(err));
    if (schema == NULL || (budget = tq_budget_schema_new(schema, sizes, err, sizeof(err))) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    test_fields_and_lists();
    test_variables();
    test_skip_include();
    test_fragments();
    test_introspection();
    test_schema_sizes();
    tq_budget_schema_free(budget);
    tq_schema_free(schema);
    return TQ_TEST_REPORT();
}
