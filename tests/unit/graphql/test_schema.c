/*
 * test_schema.c - building the schema from SDL: every type system rule refuses a bad
 * SDL with a message naming the culprit; a good SDL with every kind of definition,
 * extensions, @deprecated and @specifiedBy builds into the expected types; the default
 * resolver reads the parent object; introspection answers and, when turned off, refuses.
 */
#include <stdlib.h>

#include "tenantql/embedded.h"
#include "tenantql/exec.h"
#include "tenantql/introspection.h"
#include "tenantql/parser.h"
#include "tenantql/schema.h"
#include "tq_test.h"

extern const tq_scalar_ops tq_scalar_string;

static const tq_scalar_binding test_scalars[] = {
    {"Url", &tq_scalar_string},
    {NULL, NULL},
};

/* ---- rules ---- */

/* Expects the SDL to be refused with a message containing want. */
static void check_refused(const char *file, int line, const char *sdl, const char *want)
{
    char err[512] = "";
    tq_schema *s = tq_schema_build(sdl, strlen(sdl), NULL, NULL, err, sizeof(err));
    if (s == NULL && strstr(err, want) != NULL) {
        tq_test_passed++;
        return;
    }
    tq_test_failed++;
    fprintf(stderr, "%s:%d: %s; want an error containing \"%s\"\n", file, line,
            s ? "the schema was accepted" : err, want);
    tq_schema_free(s);
}
#define REFUSED(sdl, want) check_refused(__FILE__, __LINE__, (sdl), (want))

static tq_schema *build_ok(const char *sdl, const tq_resolver_binding *resolvers)
{
    char err[512] = "";
    const tq_scalar_binding *scalars = strstr(sdl, "scalar Url") ? test_scalars : NULL;
    tq_schema *s = tq_schema_build(sdl, strlen(sdl), resolvers, scalars, err, sizeof(err));
    if (s == NULL)
        fprintf(stderr, "unexpected schema error: %s\n", err);
    CHECK(s != NULL);
    return s;
}

static void test_reserved_names(void)
{
    REFUSED("type __Foo { a: Int } type Query { a: Int }",
            "1:1: Name \"__Foo\" must not begin with \"__\", which is reserved by GraphQL introspection.");
    REFUSED("type Query { __a: Int }", "Name \"__a\" must not begin with \"__\"");
    REFUSED("type Query { a(__x: Int): Int }", "Name \"__x\" must not begin with \"__\"");
    REFUSED("enum E { __V } type Query { a: E }", "Name \"__V\" must not begin with \"__\"");
    REFUSED("input I { __f: Int } type Query { a(i: I): Int }", "Name \"__f\" must not begin with \"__\"");
    REFUSED("directive @__d on FIELD type Query { a: Int }", "Name \"__d\" must not begin with \"__\"");
    REFUSED("directive @d(__x: Int) on FIELD type Query { a: Int }", "Name \"__x\" must not begin with \"__\"");
    /* an SDL cannot take over an introspection type either (graphql-js would silently
     * keep its own) */
    REFUSED("type __Schema { a: Int } type Query { a: Int }", "Name \"__Schema\" must not begin with \"__\"");
}

static void test_unique_names(void)
{
    REFUSED("type Query { a: Int } type Query { b: Int }", "1:23: There can be only one type named \"Query\".");
    REFUSED("type Query { a: Int a: String }", "1:21: Field \"Query.a\" can only be defined once.");
    REFUSED("type Query { a: Int } extend type Query { a: Int }", "Field \"Query.a\" can only be defined once.");
    REFUSED("input I { a: Int a: Int } type Query { a(i: I): Int }", "Field \"I.a\" can only be defined once.");
    REFUSED("type Query { a(x: Int, x: Int): Int }", "Argument \"Query.a(x:)\" can only be defined once.");
    REFUSED("directive @d(x: Int, x: Int) on FIELD type Query { a: Int }",
            "Argument \"@d(x:)\" can only be defined once.");
    REFUSED("enum E { A B A } type Query { a: E }", "Enum value \"E.A\" can only be defined once.");
    REFUSED("enum E { A } extend enum E { A } type Query { a: E }", "Enum value \"E.A\" can only be defined once.");
    REFUSED("directive @d on FIELD directive @d on FIELD type Query { a: Int }",
            "There can be only one directive named \"@d\".");
    /* stricter than graphql-js, which lets an SDL replace a built-in directive: the
     * executor implements the built-in ones */
    REFUSED("directive @skip on FIELD type Query { a: Int }", "directive \"@skip\" is defined twice");
    REFUSED("schema { query: Query } schema { query: Query } type Query { a: Int }",
            "Must provide only one schema definition.");
    REFUSED("schema { query: Query query: Query } type Query { a: Int }", "There can be only one query type in schema.");
}

static void test_extensions(void)
{
    REFUSED("type Query { a: Int } extend type Nope { a: Int }",
            "1:23: Cannot extend type \"Nope\" because it is not defined.");
    REFUSED("enum E { A } extend type E { a: Int } type Query { a: E }", "Cannot extend non-object type \"E\".");
    REFUSED("type T { a: Int } extend input T { a: Int } type Query { a: T }",
            "Cannot extend non-input object type \"T\".");
    REFUSED("type Query { a: Int } extend scalar String @deprecated",
            "Cannot extend type \"String\" because it is not defined.");
}

static void test_fields_and_arguments(void)
{
    REFUSED("type Empty type Query { a: Empty }", "Type Empty must define one or more fields.");
    REFUSED("interface I type Query { a: I }", "Type I must define one or more fields.");
    REFUSED("input I { a: Int } type Query { a: I }", "The type of Query.a must be Output Type but got: I.");
    REFUSED("input I { a: Int } type Query { a: [I!] }", "The type of Query.a must be Output Type but got: [I!].");
    REFUSED("type Query { a(x: Query): Int }", "The type of Query.a(x:) must be Input Type but got: Query.");
    REFUSED("type Query { a(x: Int! @deprecated): Int }", "Required argument Query.a(x:) cannot be deprecated.");
    REFUSED("type Query { a: Nope }", "Unknown type \"Nope\".");
    REFUSED("type Query { a(x: [Nope]): Int }", "Unknown type \"Nope\".");
    REFUSED("directive @d(x: Query) on FIELD type Query { a: Int }",
            "The type of @d(x:) must be Input Type but got: Query.");
    REFUSED("directive @d(x: Int! @deprecated) on FIELD type Query { a: Int }",
            "Required argument @d(x:) cannot be deprecated.");
}

static void test_interfaces(void)
{
    REFUSED("type Other { a: Int } type Query implements Other { a: Int }",
            "Type Query must only implement Interface types, it cannot implement Other.");
    REFUSED("interface I implements I { a: Int } type Query { a: I }",
            "Type I cannot implement itself because it would create a circular reference.");
    REFUSED("interface I { a: Int } type Query implements I & I { a: Int }", "Type Query can only implement I once.");
    REFUSED("interface Node { id: ID! } type Query implements Node { a: Int }",
            "Interface field Node.id expected but Query does not provide it.");
    REFUSED("interface Node { id: ID! } type Query implements Node { id: ID }",
            "Interface field Node.id expects type ID! but Query.id is type ID.");
    REFUSED("interface I { a: [Int] } type Query implements I { a: Int }",
            "Interface field I.a expects type [Int] but Query.a is type Int.");
    REFUSED("interface I { a: I } type O { a: Int } type Query implements I { a: O }",
            "Interface field I.a expects type I but Query.a is type O.");
    REFUSED("interface I { a(x: Int): Int } type Query implements I { a: Int }",
            "Interface field argument I.a(x:) expected but Query.a does not provide it.");
    REFUSED("interface I { a(x: Int): Int } type Query implements I { a(x: String): Int }",
            "Interface field argument I.a(x:) expects type Int but Query.a(x:) is type String.");
    REFUSED("interface I { a(x: Int): Int } type Query implements I { a(x: Int!): Int }",
            "expects type Int but Query.a(x:) is type Int!.");
    REFUSED("interface I { a: Int } type Query implements I { a(y: Int!): Int }",
            "Object field Query.a includes required argument y that is missing from the Interface field I.a.");
    REFUSED("interface A { a: Int } interface B implements A { a: Int } type Query implements B { a: Int }",
            "Type Query must implement A because it is implemented by B.");
    REFUSED("interface A implements B { a: Int } interface B implements A { a: Int } type Query { a: A }",
            "Type A cannot implement B because it would create a circular reference.");
    /* covariance, optional extra arguments and transitive interfaces are fine */
    tq_schema *s = build_ok("interface A { a: A, b(x: Int): [A] }\n"
                            "interface B implements A { a: B, b(x: Int, y: Int = 1): [B!]! }\n"
                            "type T implements A & B { a: T!, b(x: Int, y: Int = 1, z: String): [T!]! }\n"
                            "type Query { t: A }",
                            NULL);
    tq_schema_free(s);
}

static void test_unions_enums_inputs(void)
{
    REFUSED("interface I { a: Int } type O implements I { a: Int } union U = O | I type Query { u: U }",
            "Union type U can only include Object types, it cannot include I.");
    REFUSED("union U = Int type Query { u: U }", "Union type U can only include Object types, it cannot include Int.");
    REFUSED("type O { a: Int } union U = O | O type Query { u: U }", "Union type U can only include type O once.");
    REFUSED("union U type Query { u: U }", "Union type U must define one or more member types.");
    REFUSED("enum E type Query { a: E }", "Enum type E must define one or more values.");
    REFUSED("enum E { A true } type Query { a: E }", "Name \"true\" is reserved and cannot be used for an enum value.");
    REFUSED("enum E { null } type Query { a: E }", "Name \"null\" is reserved");
    REFUSED("input I type Query { a(i: I): Int }", "Input Object type I must define one or more fields.");
    REFUSED("input I { a: Query } type Query { a(i: I): Int }", "The type of I.a must be Input Type but got: Query.");
    REFUSED("input I { a: Int! @deprecated } type Query { a(i: I): Int }",
            "Required input field I.a cannot be deprecated.");
    REFUSED("input A { b: B! } input B { a: A! } type Query { a(x: A): Int }",
            "Cannot reference Input Object \"A\" within itself through a series of non-null fields: \"b.a\".");
    REFUSED("input A { x: Int, self: A! } type Query { a(x: A): Int }",
            "Cannot reference Input Object \"A\" within itself through a series of non-null fields: \"self\".");
    /* a nullable field or a list breaks the cycle */
    tq_schema *s = build_ok("input A { b: B, l: [A!]!, d: Int! = 1 @deprecated } input B { a: A! }\n"
                            "type Query { a(x: A, y: Int! = 2 @deprecated): Int }",
                            NULL);
    tq_schema_free(s);
}

static void test_roots_and_directives(void)
{
    REFUSED("type Foo { a: Int }", "Query root type must be provided.");
    REFUSED("schema { query: U } type O { a: Int } union U = O", "Query root type must be Object type, it cannot be U.");
    REFUSED("union Query = O type O { a: Int }", "Query root type must be Object type, it cannot be Query.");
    REFUSED("type Query { a: Int } input Mutation { a: Int }",
            "Mutation root type must be Object type if provided, it cannot be Mutation.");
    REFUSED("schema { query: Query subscription: E } type Query { a: Int } enum E { A }",
            "Subscription root type must be Object type if provided, it cannot be E.");
    REFUSED("type Query { a: Int @nope }", "1:21: Unknown directive \"@nope\".");
    REFUSED("type Query @deprecated { a: Int }", "Directive \"@deprecated\" may not be used on OBJECT.");
    REFUSED("type Query { a: Int @deprecated @deprecated }",
            "The directive \"@deprecated\" can only be used once at this location.");
    REFUSED("type Query { a: Int @deprecated(why: \"x\") }", "Unknown argument \"why\" on directive \"@deprecated\".");
    REFUSED("scalar Url @specifiedBy type Query { a: Url }",
            "Directive \"@specifiedBy\" argument \"url\" of type \"String!\" is required, but it was not provided.");
    /* a repeatable directive may repeat; the roots may have any names */
    tq_schema *s = build_ok("directive @tag(n: Int) repeatable on OBJECT | FIELD_DEFINITION\n"
                            "schema { query: Root mutation: Change }\n"
                            "type Root @tag(n: 1) @tag(n: 2) { a: Int @tag }\n"
                            "type Change { b: Int }\n"
                            "type Query { c: Int }",
                            NULL);
    if (s != NULL) {
        CHECK_STR(s->query->name, "Root");
        CHECK_STR(s->mutation->name, "Change");
        CHECK(s->subscription == NULL);
    }
    tq_schema_free(s);
}

/* ---- a good schema ---- */

static const char good_sdl[] =
    "\"\"\"\n  The shop.\n\"\"\"\n"
    "schema { query: Query mutation: Mutation }\n"
    "\"A tag\" directive @tag(name: String!) repeatable on OBJECT | FIELD_DEFINITION | ENUM_VALUE | INTERFACE\n"
    "\"An address\" scalar Url @specifiedBy(url: \"https://url.spec.whatwg.org/\")\n"
    "interface Node { id: ID! }\n"
    "interface Named implements Node { id: ID! name: String }\n"
    "type User implements Node & Named @tag(name: \"u\") {\n"
    "  id: ID!\n  name: String\n  \"old\" nick: String @deprecated(reason: \"use name\")\n  home: Url\n}\n"
    "type Product implements Node { id: ID! price: Int }\n"
    "union Result = User | Product\n"
    "enum Order { NAME_ASC @tag(name: \"n\") PRICE @deprecated }\n"
    "input Filter { name: String = \"x\" old: Int @deprecated(reason: null) order: Order = NAME_ASC }\n"
    "type Query {\n"
    "  node(id: ID!): Node\n  search(filter: Filter, first: Int = 10, legacy: Boolean @deprecated): [Result!]!\n"
    "  me: User\n}\n"
    "type Mutation { touch: Boolean }\n"
    "extend type Product { name: String }\n"
    "extend union Result = Extra\n"
    "type Extra { e: Int }\n"
    "extend enum Order { PRICE_DESC }\n"
    "extend input Filter { max: Int }\n"
    "extend interface Node @tag(name: \"ignored\")\n";

static void test_good_schema(void)
{
    char err[512] = "";
    tq_schema *s = tq_schema_build(good_sdl, sizeof(good_sdl) - 1, NULL, test_scalars, err, sizeof(err));
    if (s == NULL)
        fprintf(stderr, "good schema refused: %s\n", err);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK(s->description.s != NULL && strcmp(s->description.s, "The shop.") == 0);
    CHECK_STR(s->query->name, "Query");
    CHECK_STR(s->mutation->name, "Mutation");

    const tq_schema_type *url = tq_schema_find_type(s, "Url", 3);
    CHECK(url != NULL && url->kind == TQ_TYPE_SCALAR);
    CHECK_STR(url ? url->specified_by : NULL, "https://url.spec.whatwg.org/");
    CHECK(url && strcmp(url->description.s, "An address") == 0);

    const tq_schema_type *user = tq_schema_find_type(s, "User", 4);
    const tq_schema_field *nick = user ? tq_schema_find_field(user, "nick", 4) : NULL;
    CHECK(nick != NULL && nick->deprecated);
    CHECK_STR(nick ? nick->deprecation_reason : NULL, "use name");
    CHECK(user && user->ninterfaces == 2);

    const tq_schema_type *product = tq_schema_find_type(s, "Product", 7);
    CHECK(product && product->nfields == 3);
    CHECK_STR(product ? product->fields[2].name : NULL, "name");

    const tq_schema_type *result = tq_schema_find_type(s, "Result", 6);
    CHECK(result && result->kind == TQ_TYPE_UNION && result->npossible == 3);
    const tq_schema_type *node = tq_schema_find_type(s, "Node", 4);
    CHECK(node && node->npossible == 2); /* User, Product: objects only */
    CHECK(node && tq_schema_is_possible_type(node, product));

    const tq_schema_type *order = tq_schema_find_type(s, "Order", 5);
    CHECK(order && order->nvalues == 3);
    CHECK(order && order->values[1].deprecated);
    CHECK_STR(order ? order->values[1].deprecation_reason : NULL, "No longer supported");
    CHECK_STR(order ? order->values[2].name : NULL, "PRICE_DESC");

    const tq_schema_type *filter = tq_schema_find_type(s, "Filter", 6);
    CHECK(filter && filter->ninput_fields == 4);
    CHECK(filter && !filter->input_fields[1].deprecated); /* reason: null is no deprecation */
    CHECK(filter && filter->input_fields[2].default_literal != NULL);

    const tq_schema_field *search = tq_schema_find_field(s->query, "search", 6);
    CHECK(search && search->nargs == 3 && search->args[2].deprecated);

    const tq_schema_directive *tag = tq_schema_find_directive(s, "tag", 3);
    CHECK(tag && tag->repeatable && !tag->builtin && tag->nlocation_list == 4);
    CHECK(tag && tag->location_list[0] == TQ_DLOC_OBJECT && tag->location_list[2] == TQ_DLOC_ENUM_VALUE);
    const tq_schema_directive *dep = tq_schema_find_directive(s, "deprecated", 10);
    CHECK(dep && dep->builtin && dep->location_list[2] == TQ_DLOC_INPUT_FIELD_DEFINITION);

    /* meta fields live on the query root only */
    CHECK(tq_schema_field_of(s, s->query, "__schema", 8) == s->schema_meta_field);
    CHECK(tq_schema_field_of(s, s->query, "__type", 6) == s->type_meta_field);
    CHECK(tq_schema_field_of(s, user, "__schema", 8) == NULL);

    /* listed like graphql-js: SDL types in order with what they bring in, Float unused */
    static const char *const expected[] = {"Url", "Node", "ID", "Named", "String", "User", "Product", "Int",
                                           "Result", "Order", "Filter", "Query", "Boolean", "Mutation", "Extra",
                                           "__Schema", "__Type", "__TypeKind", "__Field", "__InputValue",
                                           "__EnumValue", "__Directive", "__DirectiveLocation"};
    CHECK(s->nlisted_types == sizeof(expected) / sizeof(expected[0]));
    for (uint32_t i = 0; i < s->nlisted_types && i < sizeof(expected) / sizeof(expected[0]); i++)
        CHECK_STR(s->listed_types[i]->name, expected[i]);
    tq_schema_free(s);
}

/* ---- execution ---- */

typedef struct run_result {
    bool done;
} run_result;

static void on_done(tq_exec *ex, void *data)
{
    (void)ex;
    ((run_result *)data)->done = true;
}

/* Runs a query and returns its response JSON (malloc'ed). */
static char *run(const tq_schema *s, const char *query)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_gql_parse_options po = {.allow_type_system = false};
    tq_gql_parse_error pe;
    tq_gql_document *doc = tq_gql_parse(&a, query, strlen(query), &po, &pe);
    if (doc == NULL) {
        tq_arena_free(&a);
        return strdup(pe.message);
    }
    run_result rr = {false};
    tq_exec_params p = {s, doc, NULL, NULL, NULL, &a, on_done, &rr};
    tq_exec *ex = tq_exec_create(&p);
    tq_exec_run(ex);
    CHECK(rr.done);
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_exec_write_response(ex, &b);
    char *out = strdup(tq_strbuf_cstr(&b));
    tq_strbuf_free(&b);
    tq_arena_free(&a);
    return out;
}

static void check_run(const char *file, int line, const tq_schema *s, const char *query, const char *want)
{
    char *got = run(s, query);
    if (strcmp(got, want) == 0) {
        tq_test_passed++;
    } else {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: %s\n  got  %s\n  want %s\n", file, line, query, got, want);
    }
    free(got);
}
#define RUN(s, q, want) check_run(__FILE__, __LINE__, (s), (q), (want))

static void resolve_me(tq_field_ctx *fc)
{
    const tq_schema_type *user = tq_schema_find_type(tq_exec_schema(fc->exec), "User", 4);
    tq_value v = tq_value_object(fc->arena, user, 3);
    tq_value_object_set(&v, 0, "id", tq_value_string("u1", 2));
    tq_value_object_set(&v, 1, "name", tq_value_string("Ann", 3));
    tq_value_object_set(&v, 2, "unrelated", tq_value_int(5));
    tq_field_resolve(fc, v);
}

static void test_default_resolver(void)
{
    static const tq_resolver_binding resolvers[] = {{"Query.me", resolve_me}, {NULL, NULL}};
    tq_schema *s = build_ok(good_sdl, resolvers);
    if (s == NULL)
        return;
    /* fields without a resolver read the parent object's entry of the same name; an
     * absent entry is null; aliases do not change what is read */
    RUN(s, "{ me { id who: name nick home __typename } }",
        "{\"data\":{\"me\":{\"id\":\"u1\",\"who\":\"Ann\",\"nick\":null,\"home\":null,\"__typename\":\"User\"}}}");
    /* a root field without resolver reads from no parent: null */
    RUN(s, "{ node(id: \"1\") { id } }", "{\"data\":{\"node\":null}}");
    RUN(s, "{ __typename }", "{\"data\":{\"__typename\":\"Query\"}}");
    /* __schema is no field of other types */
    RUN(s, "{ me { __schema { description } } }",
        "{\"errors\":[{\"message\":\"Cannot query field \\\"__schema\\\" on type \\\"User\\\".\",\"locations\":[{"
        "\"line\":1,\"column\":8}],\"path\":[\"me\",\"__schema\"],\"extensions\":{\"code\":"
        "\"GRAPHQL_VALIDATION_FAILED\"}}],\"data\":{\"me\":{\"__schema\":null}}}");
    tq_schema_free(s);
}

static void test_introspection(void)
{
    tq_schema *s = build_ok(good_sdl, NULL);
    if (s == NULL)
        return;
    RUN(s, "{ __schema { description queryType { name } mutationType { name } subscriptionType { name } } }",
        "{\"data\":{\"__schema\":{\"description\":\"The shop.\",\"queryType\":{\"name\":\"Query\"},"
        "\"mutationType\":{\"name\":\"Mutation\"},\"subscriptionType\":null}}}");
    RUN(s, "{ __schema { directives { name isRepeatable locations } } }",
        "{\"data\":{\"__schema\":{\"directives\":[{\"name\":\"tag\",\"isRepeatable\":true,\"locations\":[\"OBJECT\","
        "\"FIELD_DEFINITION\",\"ENUM_VALUE\",\"INTERFACE\"]},{\"name\":\"include\",\"isRepeatable\":false,\"locations\":[\"FIELD\","
        "\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"]},{\"name\":\"skip\",\"isRepeatable\":false,\"locations\":[\"FIELD\","
        "\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"]},{\"name\":\"deprecated\",\"isRepeatable\":false,\"locations\":["
        "\"FIELD_DEFINITION\",\"ARGUMENT_DEFINITION\",\"INPUT_FIELD_DEFINITION\",\"ENUM_VALUE\"]},{\"name\":"
        "\"specifiedBy\",\"isRepeatable\":false,\"locations\":[\"SCALAR\"]}]}}}");
    RUN(s, "{ __type(name: \"User\") { kind name fields { name } all: fields(includeDeprecated: true) { name "
           "isDeprecated deprecationReason } interfaces { name } possibleTypes { name } enumValues { name } } }",
        "{\"data\":{\"__type\":{\"kind\":\"OBJECT\",\"name\":\"User\",\"fields\":[{\"name\":\"id\"},{\"name\":\"name\"},"
        "{\"name\":\"home\"}],\"all\":[{\"name\":\"id\",\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":"
        "\"name\",\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"nick\",\"isDeprecated\":true,"
        "\"deprecationReason\":\"use name\"},{\"name\":\"home\",\"isDeprecated\":false,\"deprecationReason\":null}],"
        "\"interfaces\":[{\"name\":\"Node\"},{\"name\":\"Named\"}],\"possibleTypes\":null,\"enumValues\":null}}}");
    RUN(s, "{ __type(name: \"Url\") { kind description specifiedByURL fields { name } } }",
        "{\"data\":{\"__type\":{\"kind\":\"SCALAR\",\"description\":\"An address\",\"specifiedByURL\":"
        "\"https://url.spec.whatwg.org/\",\"fields\":null}}}");
    RUN(s, "{ a: __type(name: \"Float\") { name } b: __type(name: \"Nope\") { name } }",
        "{\"data\":{\"a\":null,\"b\":null}}");
    RUN(s, "{ __type(name: \"Node\") { possibleTypes { name } } }",
        "{\"data\":{\"__type\":{\"possibleTypes\":[{\"name\":\"User\"},{\"name\":\"Product\"}]}}}");
    RUN(s, "{ __type(name: \"Query\") { fields { name type { kind name ofType { kind name ofType { kind name "
           "ofType { name } } } } args { name defaultValue } } } }",
        "{\"data\":{\"__type\":{\"fields\":[{\"name\":\"node\",\"type\":{\"kind\":\"INTERFACE\",\"name\":\"Node\","
        "\"ofType\":null},\"args\":[{\"name\":\"id\",\"defaultValue\":null}]},{\"name\":\"search\",\"type\":{\"kind\":"
        "\"NON_NULL\",\"name\":null,\"ofType\":{\"kind\":\"LIST\",\"name\":null,\"ofType\":{\"kind\":\"NON_NULL\","
        "\"name\":null,\"ofType\":{\"name\":\"Result\"}}}},\"args\":[{\"name\":\"filter\",\"defaultValue\":null},"
        "{\"name\":\"first\",\"defaultValue\":\"10\"}]},{\"name\":\"me\",\"type\":{\"kind\":\"OBJECT\",\"name\":"
        "\"User\",\"ofType\":null},\"args\":[]}]}}}");
    RUN(s, "{ __type(name: \"Filter\") { inputFields { name defaultValue } } }",
        "{\"data\":{\"__type\":{\"inputFields\":[{\"name\":\"name\",\"defaultValue\":\"\\\"x\\\"\"},{\"name\":\"old\","
        "\"defaultValue\":null},{\"name\":\"order\",\"defaultValue\":\"NAME_ASC\"},{\"name\":\"max\","
        "\"defaultValue\":null}]}}}");
    tq_schema_free(s);
}

/* graphql-js prints default values from their coerced form */
static void test_default_value_printing(void)
{
    static const char sdl[] =
        "input P { x: Int = 7, y: Int!, z: [Float] = [1, 2.5, 1e3, 1e21, 0.0000001], s: String = \"a\\\"b\\\\c\\n\\u0001\" }\n"
        "enum C { RED }\n"
        "type Query { f(a: ID = \"12\", b: ID = \"ab\", c: [Int] = 3, d: Float = 1.50, e: C = RED, p: P = {y: 1, x: null},"
        " q: Int = null, r: Int = \"bad\"): Int }";
    tq_schema *s = build_ok(sdl, NULL);
    if (s == NULL)
        return;
    RUN(s, "{ __type(name: \"Query\") { fields { args { defaultValue } } } }",
        "{\"data\":{\"__type\":{\"fields\":[{\"args\":[{\"defaultValue\":\"12\"},{\"defaultValue\":\"\\\"ab\\\"\"},"
        "{\"defaultValue\":\"[3]\"},{\"defaultValue\":\"1.5\"},{\"defaultValue\":\"RED\"},{\"defaultValue\":"
        "\"{x: null, y: 1, z: [1, 2.5, 1000, 1e+21, 1e-7], s: \\\"a\\\\\\\"b\\\\\\\\c\\\\n\\\\u0001\\\"}\"},"
        "{\"defaultValue\":\"null\"},{\"defaultValue\":null}]}]}}}");
    tq_schema_free(s);
}

static void check_reject(const char *file, int line, const tq_schema *s, const char *query, const char *want)
{
    tq_arena a;
    tq_arena_init(&a, 4096);
    tq_gql_parse_options po = {.allow_type_system = false};
    tq_gql_parse_error pe;
    tq_gql_document *doc = tq_gql_parse(&a, query, strlen(query), &po, &pe);
    tq_strbuf b = TQ_STRBUF_INIT;
    bool rejected = doc != NULL && tq_introspection_reject(s, doc, &b);
    const char *got = rejected ? tq_strbuf_cstr(&b) : "(accepted)";
    if (strcmp(got, want) == 0) {
        tq_test_passed++;
    } else {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: %s\n  got  %s\n  want %s\n", file, line, query, got, want);
    }
    tq_strbuf_free(&b);
    tq_arena_free(&a);
}
#define REJECT(s, q, want) check_reject(__FILE__, __LINE__, (s), (q), (want))

static void test_introspection_off(void)
{
    tq_schema *s = build_ok(good_sdl, NULL);
    if (s == NULL)
        return;
    REJECT(s, "{ __typename me { __typename id } }", "(accepted)");
    REJECT(s, "{ __type(name: \"User\") { name } }",
           "{\"errors\":[{\"message\":\"GraphQL introspection has been disabled, but the requested query contained the "
           "field \\\"__type\\\".\",\"locations\":[{\"line\":1,\"column\":3}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}}]}");
    /* every field of an introspection type is reported, in fragments too, as graphql-js does */
    REJECT(s, "query {\n  me { id }\n  __schema { types { name } }\n}\nfragment F on __Type { fields { name } }",
           "{\"errors\":[{\"message\":\"GraphQL introspection has been disabled, but the requested query contained the "
           "field \\\"__schema\\\".\",\"locations\":[{\"line\":3,\"column\":3}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}},{\"message\":\"GraphQL introspection has been disabled, but the requested query "
           "contained the field \\\"types\\\".\",\"locations\":[{\"line\":3,\"column\":14}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}},{\"message\":\"GraphQL introspection has been disabled, but the requested query "
           "contained the field \\\"fields\\\".\",\"locations\":[{\"line\":5,\"column\":24}],\"extensions\":{\"code\":"
           "\"BAD_USER_INPUT\"}}]}");
    tq_schema_free(s);
}

/* The server's own schema builds, and introspection covers it. */
static void test_real_schema(void)
{
    const tq_embedded_file *f = tq_embedded_find("schema/schema.graphql");
    static const tq_scalar_binding scalars[] = {{"DateTime", &tq_scalar_string}, {"Decimal", &tq_scalar_string},
                                                {NULL, NULL}};
    char err[512] = "";
    tq_schema *s = f ? tq_schema_build(f->data, f->len, NULL, scalars, err, sizeof(err)) : NULL;
    if (s == NULL)
        fprintf(stderr, "schema.graphql refused: %s\n", err);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK_STR(s->listed_types[0]->name, "DateTime");
    CHECK_STR(s->listed_types[s->nlisted_types - 1]->name, "__DirectiveLocation");
    tq_schema_free(s);
}

int main(void)
{
    test_reserved_names();
    test_unique_names();
    test_extensions();
    test_fields_and_arguments();
    test_interfaces();
    test_unions_enums_inputs();
    test_roots_and_directives();
    test_good_schema();
    test_default_resolver();
    test_introspection();
    test_default_value_printing();
    test_introspection_off();
    test_real_schema();
    return TQ_TEST_REPORT();
}
