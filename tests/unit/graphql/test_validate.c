/*
 * test_validate.c - document validation (spec section 5), rule by rule, each with
 * valid and invalid documents against a small schema that has what the server's lacks
 * (interfaces implementing interfaces, a subscription root, repeatable and custom
 * directives, required input fields). The expected locations and first messages are
 * those graphql-js 16.8.2's validate() gives for the same schema and document (without
 * its "Did you mean" suggestions); tests/e2e/validation.test.mjs compares against
 * graphql-js directly on a larger corpus.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "tenantql/arena.h"
#include "tenantql/embedded.h"
#include "tenantql/parser.h"
#include "tenantql/scalars.h"
#include "tenantql/schema.h"
#include "tenantql/validate.h"
#include "tq_test.h"

static const char test_sdl[] =
    "scalar DateTime\n"
    "scalar Decimal\n"
    "interface Node { id: ID! }\n"
    "interface Named implements Node { id: ID! name: String }\n"
    "type Dog implements Node & Named { id: ID! name: String barks: Boolean owner: Human nickname(short: Boolean = false): String }\n"
    "type Cat implements Node & Named { id: ID! name: String meows: Boolean lives: Int }\n"
    "type Human implements Node { id: ID! name: String pets: [Pet!] born: DateTime }\n"
    "union Pet = Dog | Cat\n"
    "enum Color { RED GREEN }\n"
    "input Filter { color: Color name: String! limit: Int = 10 price: Decimal tags: [String!] nested: Filter }\n"
    "type Query { dog: Dog pet: Pet node(id: ID!): Node named: Named human(id: ID): Human find(filter: Filter!, colors: [Color!] = [RED]): [Named] count(n: Int!, f: Float): Int at(when: DateTime): String }\n"
    "type Mutation { setName(id: ID!, name: String!): Dog }\n"
    "type Subscription { dogBarked: Dog catMeowed: Cat }\n"
    "directive @tag(name: String!) repeatable on FIELD | FRAGMENT_SPREAD\n"
    "directive @once on FIELD | QUERY\n";

typedef struct validation_case {
    const char *rule;
    const char *document;
    const char *locations; /* errors separated by spaces, locations of one error by commas */
    const char *first_message; /* prefix of the first error's message; "" when valid */
} validation_case;

static const validation_case cases[] = {
    {"executable definitions",
     "{ dog { id } }",
     "", ""},
    {"executable definitions",
     "{ dog { id } }\ntype T { a: Int }\nextend type Dog { x: Int }",
     "2:1 3:1", "The \"T\" definition is not executable."},
    {"unique operation names",
     "query A { dog { id } } query B { dog { id } }",
     "", ""},
    {"unique operation names",
     "query A { dog { id } } query A { pet { __typename } }",
     "1:7,1:30", "There can be only one operation named \"A\"."},
    {"lone anonymous operation",
     "{ dog { id } }",
     "", ""},
    {"lone anonymous operation",
     "{ dog { id } } query A { dog { id } }",
     "1:1", "This anonymous operation must be the only defined operation."},
    {"single root field",
     "subscription S { dogBarked { id } }",
     "", ""},
    {"single root field",
     "subscription S { dogBarked { id } catMeowed { id } b: dogBarked { id } }",
     "1:35,1:52", "Subscription \"S\" must select only one top level field."},
    {"single root field",
     "subscription { ...F } fragment F on Subscription { dogBarked { id } catMeowed { id } }",
     "1:69", "Anonymous Subscription must select only one top level field."},
    {"single root field",
     "subscription { dogBarked { id } catMeowed @skip(if: true) { id } }",
     "", ""},
    {"single root field",
     "subscription { __typename }",
     "1:16", "Anonymous Subscription must not select an introspection top level field."},
    {"known type names",
     "query Q($a: Int, $b: [Float!]) { count(n: $a, f: $b) }",
     "1:9,1:43 1:18,1:50", "Variable \"$a\" of type \"Int\" used in position expecting type \"Int!\"."},
    {"known type names",
     "query Q($a: Nope) { dog { ... on Nada { id } } }",
     "1:13 1:34 1:9", "Unknown type \"Nope\"."},
    {"fragments on composite types",
     "{ dog { ... on Named { name } } }",
     "", ""},
    {"fragments on composite types",
     "{ dog { ... on Color { x } } } fragment F on Filter { x }",
     "1:16 1:46 1:32", "Fragment cannot condition on non composite type \"Color\"."},
    {"variables are input types",
     "query Q($f: Filter, $c: [Color!]!) { find(filter: $f, colors: $c) { name } }",
     "1:9,1:51", "Variable \"$f\" of type \"Filter\" used in position expecting type \"Filter!\"."},
    {"variables are input types",
     "query Q($d: Dog, $p: [Pet]) { dog { id } }",
     "1:13 1:22 1:9 1:18", "Variable \"$d\" cannot be non-input type \"Dog\"."},
    {"scalar leafs",
     "{ dog { name { x } } }",
     "1:14", "Field \"name\" must not have a selection since type \"String\" has no subfields."},
    {"scalar leafs",
     "{ dog human }",
     "1:3 1:7", "Field \"dog\" of type \"Dog\" must have a selection of subfields."},
    {"fields on correct type",
     "{ dog { meows } pet { name } named { name barks } }",
     "1:9 1:23 1:43", "Cannot query field \"meows\" on type \"Dog\"."},
    {"fields on correct type",
     "{ dog { __typename } pet { __typename } __typename }",
     "", ""},
    {"field merging",
     "{ dog { name: nickname name } }",
     "1:9,1:24", "Fields \"name\" conflict because \"nickname\" and \"name\" are different fields. Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ dog { nickname(short: true) nickname(short: false) } }",
     "1:9,1:31", "Fields \"nickname\" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ dog { nickname(short: true) nickname(short: true) } }",
     "", ""},
    {"field merging",
     "{ pet { ... on Dog { x: barks } ... on Cat { x: lives } } }",
     "1:22,1:46", "Fields \"x\" conflict because they return conflicting types \"Boolean\" and \"Int\". Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ pet { ... on Dog { x: name } ... on Cat { x: name } } }",
     "", ""},
    {"field merging",
     "{ named { ... on Dog { x: barks } ... on Cat { x: meows } } }",
     "", ""},
    {"field merging",
     "{ named { ... on Named { x: name } ... on Dog { x: barks } } }",
     "1:26,1:49", "Fields \"x\" conflict because \"name\" and \"barks\" are different fields. Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ dog { owner { x: name } } dog { owner { x: id } } }",
     "1:3,1:9,1:17,1:29,1:35,1:43", "Fields \"dog\" conflict because subfields \"owner\" conflict because subfields \"x\" conflict because \"name\" and \"id\" are different fields. Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ dog { ...A ...B } } fragment A on Dog { x: name } fragment B on Dog { x: barks }",
     "1:43,1:73", "Fields \"x\" conflict because \"name\" and \"barks\" are different fields. Use different aliases on the fields to fetch both if this was intentional."},
    {"field merging",
     "{ human { pets { ... on Dog { name } } } human { pets: name } }",
     "1:3,1:11,1:42,1:50", "Fields \"human\" conflict because subfields \"pets\" conflict because \"pets\" and \"name\" are different fields. Use different aliases on the fields to fetch both if this was intentional."},
    {"leaf field selections",
     "{ human { pets } }",
     "1:11", "Field \"pets\" of type \"[Pet!]\" must have a selection of subfields."},
    {"argument names",
     "{ dog { nickname(long: true) } count(n: 1, x: 2) }",
     "1:18 1:44", "Unknown argument \"long\" on field \"Dog.nickname\"."},
    {"argument names",
     "{ dog @once(x: 1) { id } }",
     "1:13", "Unknown argument \"x\" on directive \"@once\"."},
    {"argument uniqueness",
     "{ count(n: 1, n: 2, f: 1, n: 3) }",
     "1:9,1:15,1:27", "There can be only one argument named \"n\"."},
    {"required arguments",
     "{ count node { id } }",
     "1:3 1:9", "Field \"count\" argument \"n\" of type \"Int!\" is required, but it was not provided."},
    {"required arguments",
     "{ count(n: 1) dog { nickname } find(filter: { name: \"x\" }) { id } }",
     "", ""},
    {"required arguments",
     "{ dog @tag { id } }",
     "1:7", "Directive \"@tag\" argument \"name\" of type \"String!\" is required, but it was not provided."},
    {"fragment name uniqueness",
     "{ dog { ...A } } fragment A on Dog { id } fragment A on Dog { name }",
     "1:27,1:52", "There can be only one fragment named \"A\"."},
    {"fragment spread target defined",
     "{ dog { ...Missing } }",
     "1:12", "Unknown fragment \"Missing\"."},
    {"fragment spread type exists",
     "{ dog { ...F } } fragment F on Nope { id }",
     "1:32", "Unknown type \"Nope\"."},
    {"fragments must be used",
     "{ dog { id } } fragment F on Dog { id }",
     "1:16", "Fragment \"F\" is never used."},
    {"no fragment cycles",
     "{ dog { ...A } } fragment A on Dog { ...B } fragment B on Dog { ...A }",
     "1:38,1:65", "Cannot spread fragment \"A\" within itself via \"B\"."},
    {"no fragment cycles",
     "{ dog { ...A } } fragment A on Dog { owner { pets { ... on Dog { ...A } } } }",
     "1:66", "Cannot spread fragment \"A\" within itself."},
    {"fragment spread is possible",
     "{ dog { ... on Cat { id } } }",
     "1:9", "Fragment cannot be spread here as objects of type \"Dog\" can never be of type \"Cat\"."},
    {"fragment spread is possible",
     "{ dog { ... on Pet { __typename } ... on Named { name } ... on Node { id } } }",
     "", ""},
    {"fragment spread is possible",
     "{ human { ...P } } fragment P on Pet { __typename }",
     "1:11", "Fragment \"P\" cannot be spread here as objects of type \"Human\" can never be of type \"Pet\"."},
    {"fragment spread is possible",
     "{ pet { ... on Named { name } ... on Human { id } } }",
     "1:31", "Fragment cannot be spread here as objects of type \"Pet\" can never be of type \"Human\"."},
    {"fragment spread is possible",
     "{ named { ... on Pet { __typename } ... on Human { id } ... on Node { id } } }",
     "1:37", "Fragment cannot be spread here as objects of type \"Named\" can never be of type \"Human\"."},
    {"values of correct type",
     "{ count(n: 2147483647, f: 1) }",
     "", ""},
    {"values of correct type",
     "{ count(n: 2147483648) c2: count(n: 1.5) c3: count(n: \"1\") }",
     "1:12 1:37 1:55", "Int cannot represent non 32-bit signed integer value: 2147483648"},
    {"values of correct type",
     "{ find(filter: { name: \"a\", color: BLUE, tags: [\"x\", null], nested: { name: null } }) { id } }",
     "1:36 1:54 1:77", "Value \"BLUE\" does not exist in \"Color\" enum."},
    {"values of correct type",
     "{ find(filter: { name: \"a\", nested: { limit: 1 } }, colors: RED) { id } }",
     "1:37", "Field \"Filter.name\" of required type \"String!\" was not provided."},
    {"values of correct type",
     "{ find(filter: { name: \"a\", price: \"1.234\" }) { id } at(when: \"2024-01-01T00:00:00Z\") a2: at(when: \"noon\") }",
     "1:36 1:100", "Expected value of type \"Decimal\", found \"1.234\";"},
    {"values of correct type",
     "{ find(filter: { name: \"a\", price: \"12.30\" }) { id } }",
     "", ""},
    {"values of correct type",
     "{ find(filter: [{ name: \"a\" }]) { id } }",
     "1:16", "Expected value of type \"Filter\", found [{name: \"a\"}]."},
    {"input object field names",
     "{ find(filter: { name: \"a\", nme: \"b\" }) { id } }",
     "1:29", "Field \"nme\" is not defined by type \"Filter\"."},
    {"input object field uniqueness",
     "{ find(filter: { name: \"a\", name: \"b\", nested: { name: \"c\", name: \"d\" } }) { id } }",
     "1:18,1:29 1:50,1:61", "There can be only one input field named \"name\"."},
    {"input object required fields",
     "{ find(filter: { color: RED }) { id } }",
     "1:16", "Field \"Filter.name\" of required type \"String!\" was not provided."},
    {"directives are defined",
     "{ dog @nope { id } }",
     "1:7", "Unknown directive \"@nope\"."},
    {"directives in valid locations",
     "query Q @once { dog @tag(name: \"a\") { id } ...F @tag(name: \"b\") } fragment F on Query @once { dog { id } }",
     "1:87", "Directive \"@once\" may not be used on FRAGMENT_DEFINITION."},
    {"directives unique per location",
     "{ dog @once @once @tag(name: \"a\") @tag(name: \"b\") { id } }",
     "1:7,1:13", "The directive \"@once\" can only be used once at this location."},
    {"variable uniqueness",
     "query Q($a: Int!, $a: Int!) { count(n: $a) }",
     "1:10,1:20", "There can be only one variable named \"$a\"."},
    {"all variable uses defined",
     "query Q { count(n: $n) }",
     "1:20,1:1", "Variable \"$n\" is not defined by operation \"Q\"."},
    {"all variable uses defined",
     "query Q { ...F } fragment F on Query { count(n: $n) }",
     "1:49,1:1", "Variable \"$n\" is not defined by operation \"Q\"."},
    {"all variables used",
     "query Q($n: Int!, $f: Float) { count(n: $n) }",
     "1:19", "Variable \"$f\" is never used in operation \"Q\"."},
    {"all variable usages allowed",
     "query Q($n: Int) { count(n: $n) }",
     "1:9,1:29", "Variable \"$n\" of type \"Int\" used in position expecting type \"Int!\"."},
    {"all variable usages allowed",
     "query Q($n: Int = 3) { count(n: $n) }",
     "", ""},
    {"all variable usages allowed",
     "query Q($n: Int = null) { count(n: $n) }",
     "1:9,1:36", "Variable \"$n\" of type \"Int\" used in position expecting type \"Int!\"."},
    {"all variable usages allowed",
     "query Q($s: Boolean) { dog { nickname(short: $s) } }",
     "", ""},
    {"all variable usages allowed",
     "query Q($c: Color) { find(filter: { name: \"a\" }, colors: [$c]) { id } }",
     "1:9,1:59", "Variable \"$c\" of type \"Color\" used in position expecting type \"Color!\"."},
    {"all variable usages allowed",
     "query Q($c: [Color]) { find(filter: { name: \"a\" }, colors: $c) { id } }",
     "1:9,1:60", "Variable \"$c\" of type \"[Color]\" used in position expecting type \"[Color!]\"."},
    {"all variable usages allowed",
     "query Q($l: Int) { find(filter: { name: \"a\", limit: $l }) { id } }",
     "", ""},
    {"all variable usages allowed",
     "query Q($n: String!) { find(filter: { name: \"a\", nested: { name: $n, tags: [$n] } }) { id } }",
     "", ""},
    {"all variable usages allowed",
     "query Q($n: String) { find(filter: { name: $n }) { id } }",
     "1:9,1:44", "Variable \"$n\" of type \"String\" used in position expecting type \"String!\"."},
    {"introspection",
     "{ __schema { types { name } } __type(name: \"Dog\") { name } }",
     "", ""},
    {"introspection",
     "{ dog { __schema { types { name } } } __type { name } }",
     "1:9 1:39", "Cannot query field \"__schema\" on type \"Dog\"."},
};

/* "1:2,3:4 5:6": every error's locations, as the table writes them. */
static const char *locations_text(tq_arena *a, const tq_validation_result *r)
{
    size_t cap = 16;
    for (uint32_t i = 0; i < r->count; i++)
        cap += 24 * (r->errors[i].nlocations + 1);
    char *out = tq_arena_alloc(a, cap), *o = out;
    *o = '\0';
    for (uint32_t i = 0; i < r->count; i++) {
        if (i > 0)
            *o++ = ' ';
        for (uint32_t k = 0; k < r->errors[i].nlocations; k++)
            o += sprintf(o, "%s%u:%u", k ? "," : "", r->errors[i].locations[k].line, r->errors[i].locations[k].column);
    }
    *o = '\0';
    return out;
}

static tq_validation_result validate_text(tq_arena *a, const tq_schema *s, const char *text)
{
    tq_gql_parse_options o = {.allow_type_system = true};
    tq_gql_parse_error e;
    tq_gql_document *doc = tq_gql_parse(a, text, strlen(text), &o, &e);
    if (doc == NULL) {
        fprintf(stderr, "cannot parse \"%s\": %s\n", text, e.message);
        tq_validation_result none = {NULL, 0, 0, false};
        CHECK(doc != NULL);
        return none;
    }
    return tq_validate(s, doc, a);
}

static void check_case(const tq_schema *s, const validation_case *c)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_validation_result r = validate_text(&a, s, c->document);
    const char *got = locations_text(&a, &r);
    if (strcmp(got, c->locations) != 0) {
        tq_test_failed++;
        fprintf(stderr, "%s: %s\n  got  [%s]\n  want [%s]\n", c->rule, c->document, got, c->locations);
        for (uint32_t i = 0; i < r.count; i++)
            fprintf(stderr, "    %s\n", r.errors[i].message);
    } else {
        tq_test_passed++;
    }
    if (r.count > 0 && c->first_message[0] != '\0') {
        size_t n = strlen(c->first_message);
        if (c->first_message[n - 1] == ';')
            n--; /* a custom scalar's own words follow */
        if (strncmp(r.errors[0].message, c->first_message, n) != 0) {
            tq_test_failed++;
            fprintf(stderr, "%s: %s\n  message \"%s\"\n  want    \"%s\"\n", c->rule, c->document, r.errors[0].message,
                    c->first_message);
        } else {
            tq_test_passed++;
        }
    }
    tq_arena_free(&a);
}

/* The proof that no two fields conflict never hides a conflict that graphql-js's search
 * finds: the same errors with it and without it. */
static void check_proof_agrees(const tq_schema *s, const char *text)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_validation_result with = validate_text(&a, s, text);
    tq_gql_parse_options o = {.allow_type_system = true};
    tq_gql_parse_error e;
    tq_gql_document *doc = tq_gql_parse(&a, text, strlen(text), &o, &e);
    tq_validation_result without = doc ? tq_validate_with(s, doc, &a, TQ_VALIDATE_NO_OVERLAP_PROOF) : with;
    bool same = with.count == without.count;
    for (uint32_t i = 0; same && i < with.count; i++)
        same = strcmp(with.errors[i].message, without.errors[i].message) == 0 &&
               with.errors[i].nlocations == without.errors[i].nlocations &&
               memcmp(with.errors[i].locations, without.errors[i].locations,
                      with.errors[i].nlocations * sizeof(tq_gql_loc)) == 0;
    CHECK(same);
    if (!same)
        fprintf(stderr, "  the proof changes the errors of: %s\n", text);
    tq_arena_free(&a);
}

/* ---- bounds: documents the parser accepts that once cost seconds ---- */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (t->s != NULL && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        t->cap = (t->cap + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
}

/* n fragments spread side by side at the root, fragment i selecting body(i). */
static char *fragments_at_root(int n, const char *(*body)(int i, int n))
{
    text t = {0};
    put(&t, "{");
    for (int i = 0; i < n; i++)
        put(&t, " ...F%d", i);
    put(&t, " }\n");
    for (int i = 0; i < n; i++)
        put(&t, "fragment F%d on Query { %s }\n", i, body(i, n));
    return t.s;
}

static const char *typename_body(int i, int n)
{
    (void)i, (void)n;
    return "__typename";
}

static const char *first_conflicts(int i, int n)
{
    (void)n;
    return i == 0 ? "x: dog { id }" : "x: __typename";
}

static const char *last_conflicts(int i, int n)
{
    return i == n - 1 ? "dog { x: name }" : "dog { x: id }";
}

static tq_validation_result validate_owned(tq_arena *a, const tq_schema *s, char *doc)
{
    tq_validation_result r = validate_text(a, s, doc);
    free(doc);
    return r;
}

static bool gave_up(const tq_validation_result *r)
{
    return r->count > 0 && r->count <= TQ_VALIDATE_MAX_ERRORS + 1 &&
           strstr(r->errors[r->count - 1].message, "too complex to validate") != NULL;
}

/* Fragments side by side: the proof answers in steps linear in their number. */
static void test_fragments_at_root(const tq_schema *s)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    uint64_t steps[3];
    for (int k = 0; k < 3; k++) {
        tq_validation_result r = validate_owned(&a, s, fragments_at_root(500 << k, typename_body));
        CHECK(r.count == 0 && r.overlap_proven);
        steps[k] = r.steps;
    }
    CHECK(steps[2] <= 4 * steps[0] + 16); /* linear: 4 times the fragments, about 4 times the steps */
    CHECK(steps[2] < 10 * 2000);
    /* a conflict with the first: the search stops at the error limit */
    tq_validation_result r = validate_owned(&a, s, fragments_at_root(2000, first_conflicts));
    CHECK(!r.overlap_proven && r.count == TQ_VALIDATE_MAX_ERRORS + 1 && r.steps < 10 * 2000);
    /* a conflict with the last only: the search gives up when its budget is spent */
    r = validate_owned(&a, s, fragments_at_root(2000, last_conflicts));
    CHECK(gave_up(&r));
    CHECK(r.steps > TQ_VALIDATE_MAX_STEPS && r.steps < TQ_VALIDATE_MAX_STEPS + 10000);
    tq_arena_free(&a);
}

/* Same-named fields, arguments, directives, variables, input fields by the thousand. */
static void test_many_names(const tq_schema *s)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    text t = {0};
    put(&t, "{");
    for (int i = 0; i < 3000; i++)
        put(&t, " dog { id name }");
    put(&t, " }");
    tq_validation_result r = validate_owned(&a, s, t.s);
    CHECK(r.count == 0 && r.overlap_proven && r.steps < 100);

    t = (text){0};
    put(&t, "{");
    for (int i = 0; i < 3000; i++)
        put(&t, " a: dog { id } a: dog { name }");
    put(&t, " }");
    r = validate_owned(&a, s, t.s);
    CHECK(r.count == 0 && r.overlap_proven);

    t = (text){0};
    put(&t, "query Q(");
    for (int i = 0; i < 3000; i++)
        put(&t, " $v%d: Int", i % 1500);
    put(&t, ") @once @once { count(n: 1");
    for (int i = 0; i < 3000; i++)
        put(&t, " a%d: %d", i % 1500, i);
    put(&t, ") @skip(if: false)");
    for (int i = 0; i < 3000; i++)
        put(&t, " @once");
    put(&t, " find(filter: { name: \"x\"");
    for (int i = 0; i < 3000; i++)
        put(&t, " limit: %d", i);
    put(&t, " }) { name } }");
    r = validate_owned(&a, s, t.s);
    /* repeated variables and arguments first, capped like graphql-js's */
    CHECK(r.count == TQ_VALIDATE_MAX_ERRORS + 1 && r.steps < 100);
    tq_arena_free(&a);
}

/* Fragments nested 16 deep, each spreading the next twice, and a document of many
 * operations sharing a long chain of fragments (what remains quadratic spends the budget). */
static void test_nesting(const tq_schema *s)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    text t = {0};
    put(&t, "{ dog { ...D16 } }\nfragment D0 on Dog { name }\n");
    for (int k = 1; k <= 16; k++)
        put(&t,
            "fragment D%d on Dog { owner { pets { ... on Dog { ...D%d } } } a: owner { pets { ... on Dog { ...D%d } } } }\n",
            k, k - 1, k - 1);
    tq_validation_result r = validate_owned(&a, s, t.s);
    CHECK(r.count == 0 && r.overlap_proven && r.steps < 200);

    t = (text){0};
    for (int i = 0; i < 1000; i++)
        put(&t, "query Q%d { ...C0 }\n", i);
    for (int i = 0; i < 1000; i++)
        put(&t, "fragment C%d on Query { __typename ...C%d }\n", i, i + 1);
    put(&t, "fragment C1000 on Query { __typename }\n");
    r = validate_owned(&a, s, t.s);
    CHECK(gave_up(&r));
    tq_arena_free(&a);
}

/* Like graphql-js: 100 errors, then one saying validation gave up, without locations. */
static void test_error_limit(const tq_schema *s)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    char doc[4096] = "{ dog {";
    for (int i = 0; i < 150; i++)
        sprintf(doc + strlen(doc), " f%d", i);
    strcat(doc, " } }");
    tq_validation_result r = validate_text(&a, s, doc);
    CHECK(r.count == TQ_VALIDATE_MAX_ERRORS + 1);
    if (r.count == TQ_VALIDATE_MAX_ERRORS + 1) {
        CHECK(r.errors[TQ_VALIDATE_MAX_ERRORS].nlocations == 0);
        CHECK_STR(r.errors[TQ_VALIDATE_MAX_ERRORS].message,
                  "Too many validation errors, error limit reached. Validation aborted.");
        CHECK_STR(r.errors[0].message, "Cannot query field \"f0\" on type \"Dog\".");
    }
    tq_arena_free(&a);
}

/* The server's own schema: a valid query, and the contract's scalars judged by their
 * parse_literal. */
static void test_server_schema(void)
{
    static const tq_scalar_binding scalars[] = {
        {"DateTime", &tq_scalar_datetime}, {"Decimal", &tq_scalar_decimal}, {NULL, NULL}};
    const tq_embedded_file *sdl = tq_embedded_find("schema/schema.graphql");
    CHECK(sdl != NULL);
    if (sdl == NULL)
        return;
    char err[256];
    tq_schema *s = tq_schema_build(sdl->data, sdl->len, NULL, scalars, err, sizeof(err));
    CHECK(s != NULL);
    if (s == NULL)
        return;
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_validation_result r = validate_text(&a, s, "query Q($f: Int) { users(first: $f) { edges { node { email } } } }");
    CHECK(r.count == 0);
    r = validate_text(&a, s, "{ products(filter: { minPrice: \"1.234\", maxPrice: 12.5 }) { totalCount } }");
    CHECK(r.count == 1 && r.errors[0].nlocations == 1 && r.errors[0].locations[0].column == 32);
    r = validate_text(&a, s, "{ a: products(filter: { minPrice: 123456789 }) { totalCount } b: products(filter: { minPrice: \"9.5\" }) { totalCount } }");
    CHECK(r.count == 1);
    tq_arena_free(&a);
    tq_schema_free(s);
}

int main(void)
{
    static const tq_scalar_binding scalars[] = {
        {"DateTime", &tq_scalar_datetime}, {"Decimal", &tq_scalar_decimal}, {NULL, NULL}};
    char err[256];
    tq_schema *s = tq_schema_build(test_sdl, sizeof(test_sdl) - 1, NULL, scalars, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "schema: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(s, &cases[i]);
        check_proof_agrees(s, cases[i].document);
    }
    test_error_limit(s);
    test_fragments_at_root(s);
    test_many_names(s);
    test_nesting(s);
    tq_schema_free(s);
    test_server_schema();
    return TQ_TEST_REPORT();
}
