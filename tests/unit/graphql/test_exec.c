/*
 * test_exec.c - the executor (src/graphql/exec.c, coerce.c) on a small schema of its own
 * with resolvers that answer at once and resolvers that answer on a later call (the
 * test's own "event loop" runs them), so that both the synchronous and the asynchronous
 * paths are walked: null propagation, errors with path and locations, serial mutations,
 * variable and argument coercion, @skip/@include, fragments on interfaces and unions,
 * aliases, and answers dropped for branches already nulled.
 *
 * Expected data, errors, paths and locations are what graphql-js 16 gives for the same
 * schema and document. Messages are the executor's own where graphql-js's differ: an
 * argument literal that does not coerce (validation stops such documents before
 * execution in the server), an object of no possible type, and a variable whose value is
 * wrong deep inside, which is quoted whole where graphql-js quotes the inner value and
 * adds its place (at "f.names[0]").
 */
#include <jansson.h>
#include <stdlib.h>

#include "tenantql/exec.h"
#include "tenantql/parser.h"
#include "tenantql/schema.h"
#include "tq_test.h"

static const char sdl[] =
    "interface Node { id: ID! }\n"
    "interface Named { name: String }\n"
    "type Person implements Node & Named {\n"
    "  id: ID! name: String age: Int\n"
    "  best: Person!\n"                    /* null for Bob: a non-null violation */
    "  friends: [Person!]\n"               /* Cid's list holds a null */
    "  pets: [Pet]\n"
    "  slowName: String\n"                 /* answers later */
    "  oops: String\n"                     /* a field error */
    "}\n"
    "type Dog implements Node & Named { id: ID! name: String barks: Boolean }\n"
    "type Cat implements Node & Named { id: ID! name: String lives: Int! }\n"
    "union Pet = Dog | Cat\n"
    "enum Color { RED GREEN BLUE }\n"
    "input Filter { color: Color = RED names: [String!] min: Int! nested: Filter }\n"
    "type Query {\n"
    "  person(id: ID!): Person\n"
    "  later(id: ID!): Person\n"           /* answers later */
    "  people: [Person!]!\n"
    "  nodes: [Node]\n"
    "  pets: [Pet!]\n"
    "  echo(filter: Filter, color: Color, n: Int, list: [Int!], s: String = \"dflt\"): String\n"
    "  strict: String!\n"                  /* a field error on a non-null root field */
    "  stray: Node\n"                      /* resolves to an object of no possible type */
    "}\n"
    "type Mutation {\n"
    "  step(name: String!): Int\n"
    "  laterStep(name: String!): Int\n"    /* answers later */
    "  failStep(name: String!): Int!\n"    /* a field error on a non-null field */
    "  softFail(name: String!): Int\n"     /* a field error on a nullable field */
    "}\n";

/* ---- data ---- */

typedef struct person {
    const char *id, *name;
    int age;                 /* < 0: null */
    int best;                /* index, < 0: null */
    int friends[3];          /* indexes, -2 ends, -1 is a null item */
} person;

static const person people[] = {
    {"1", "Ann", 30, 1, {1, 2, -2}},
    {"2", "Bob", -1, -1, {0, -2}},
    {"3", NULL, 5, 0, {0, -1, -2}},
};

static const tq_schema *schema;

static tq_value person_value(tq_arena *a, int i)
{
    if (i < 0 || i >= 3)
        return tq_value_null();
    const person *p = &people[i];
    tq_value v = tq_value_object(a, tq_schema_find_type(schema, "Person", 6), 3);
    tq_value_object_set(&v, 0, "id", tq_value_string(p->id, 1));
    tq_value_object_set(&v, 1, "name", p->name ? tq_value_string(p->name, (uint32_t)strlen(p->name)) : tq_value_null());
    tq_value_object_set(&v, 2, "age", p->age >= 0 ? tq_value_int(p->age) : tq_value_null());
    v.u.object.native = (void *)p;
    return v;
}

static tq_value pet_value(tq_arena *a, const char *type, const char *id, const char *name)
{
    tq_value v = tq_value_object(a, tq_schema_find_type(schema, type, strlen(type)), 4);
    tq_value_object_set(&v, 0, "id", tq_value_string(id, (uint32_t)strlen(id)));
    tq_value_object_set(&v, 1, "name", tq_value_string(name, (uint32_t)strlen(name)));
    tq_value_object_set(&v, 2, "barks", tq_value_bool(true));
    tq_value_object_set(&v, 3, "lives", tq_value_int(9));
    return v;
}

static int person_index(const tq_value *id)
{
    for (int i = 0; id != NULL && id->kind == TQ_VAL_STRING && i < 3; i++)
        if (strlen(people[i].id) == id->u.s.len && memcmp(people[i].id, id->u.s.s, id->u.s.len) == 0)
            return i;
    return -1;
}

/* ---- the deferred answers: a queue the test runs one at a time ---- */

typedef struct deferred {
    tq_field_ctx *fc;
    tq_value value;
} deferred;

static deferred queue[64];
static int queue_len;
static size_t answer_cap; /* max_response_bytes of the executions started */
static char calls[256]; /* the mutation fields in the order they ran */

static void answer_later(tq_field_ctx *fc, tq_value v)
{
    if (queue_len < (int)(sizeof(queue) / sizeof(queue[0])))
        queue[queue_len++] = (deferred){fc, v};
}

/* Answers the oldest deferred field; false when none waits. */
static bool run_one_later(void)
{
    if (queue_len == 0)
        return false;
    deferred d = queue[0];
    memmove(queue, queue + 1, (size_t)(queue_len - 1) * sizeof(queue[0]));
    queue_len--;
    tq_field_resolve(d.fc, d.value);
    return true;
}

/* ---- resolvers ---- */

static void resolve_person(tq_field_ctx *fc)
{
    tq_field_resolve(fc, person_value(fc->arena, person_index(tq_field_arg(fc, "id"))));
}

static void resolve_later(tq_field_ctx *fc)
{
    answer_later(fc, person_value(fc->arena, person_index(tq_field_arg(fc, "id"))));
}

static void resolve_people(tq_field_ctx *fc)
{
    tq_value list = tq_value_list(fc->arena, 3);
    for (int i = 0; i < 3; i++)
        list.u.list.items[i] = person_value(fc->arena, i);
    tq_field_resolve(fc, list);
}

static void resolve_nodes(tq_field_ctx *fc)
{
    tq_value list = tq_value_list(fc->arena, 4);
    list.u.list.items[0] = person_value(fc->arena, 0);
    list.u.list.items[1] = pet_value(fc->arena, "Dog", "d1", "Rex");
    list.u.list.items[2] = tq_value_null();
    list.u.list.items[3] = pet_value(fc->arena, "Cat", "c1", "Tom");
    tq_field_resolve(fc, list);
}

static void resolve_pets(tq_field_ctx *fc)
{
    tq_value list = tq_value_list(fc->arena, 2);
    list.u.list.items[0] = pet_value(fc->arena, "Cat", "c1", "Tom");
    list.u.list.items[1] = pet_value(fc->arena, "Dog", "d1", "Rex");
    tq_field_resolve(fc, list);
}

static void resolve_best(tq_field_ctx *fc)
{
    const person *p = fc->parent->u.object.native;
    tq_field_resolve(fc, person_value(fc->arena, p->best));
}

static void resolve_friends(tq_field_ctx *fc)
{
    const person *p = fc->parent->u.object.native;
    int n = 0;
    while (p->friends[n] != -2)
        n++;
    tq_value list = tq_value_list(fc->arena, (uint32_t)n);
    for (int i = 0; i < n; i++)
        list.u.list.items[i] = person_value(fc->arena, p->friends[i]);
    tq_field_resolve(fc, list);
}

static void resolve_slow_name(tq_field_ctx *fc)
{
    const tq_value *name = tq_value_get(fc->parent, "name");
    answer_later(fc, name ? *name : tq_value_null());
}

static void resolve_oops(tq_field_ctx *fc)
{
    const person *p = fc->parent->u.object.native;
    tq_field_error(fc, "TEST_CODE", "No oops for %s.", p->id);
}

static void resolve_strict(tq_field_ctx *fc)
{
    tq_field_error(fc, NULL, "Strict failed.");
}

static void resolve_stray(tq_field_ctx *fc)
{
    tq_field_resolve(fc, pet_value(fc->arena, "Mutation", "x", "x")); /* an object, but no Node */
}

/* A runtime value as text, for echo: what coercion made of the arguments. */
static void value_text(const tq_value *v, tq_strbuf *b)
{
    switch (v->kind) {
    case TQ_VAL_NULL:
        tq_strbuf_lit(b, "null");
        break;
    case TQ_VAL_BOOL:
        tq_strbuf_printf(b, "%s", v->u.b ? "true" : "false");
        break;
    case TQ_VAL_INT:
        tq_strbuf_printf(b, "%lld", (long long)v->u.i);
        break;
    case TQ_VAL_FLOAT:
        tq_strbuf_printf(b, "%g", v->u.f);
        break;
    case TQ_VAL_STRING:
        tq_strbuf_printf(b, "`%.*s`", (int)v->u.s.len, v->u.s.s);
        break;
    case TQ_VAL_ENUM:
        tq_strbuf_printf(b, "%.*s", (int)v->u.s.len, v->u.s.s);
        break;
    case TQ_VAL_LIST:
        tq_strbuf_putc(b, '[');
        for (uint32_t i = 0; i < v->u.list.count; i++) {
            if (i)
                tq_strbuf_putc(b, ' ');
            value_text(&v->u.list.items[i], b);
        }
        tq_strbuf_putc(b, ']');
        break;
    case TQ_VAL_OBJECT:
        tq_strbuf_putc(b, '{');
        for (uint32_t i = 0; i < v->u.object.count; i++) {
            const tq_value_field *f = &v->u.object.fields[i];
            tq_strbuf_printf(b, "%s%.*s:", i ? " " : "", (int)f->name.len, f->name.s);
            value_text(&f->value, b);
        }
        tq_strbuf_putc(b, '}');
        break;
    }
}

static void resolve_echo(tq_field_ctx *fc)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    value_text(fc->args, &b);
    char *s = tq_arena_strndup(fc->arena, b.data, b.len);
    tq_field_resolve(fc, tq_value_string(s, (uint32_t)b.len));
    tq_strbuf_free(&b);
}

/* Mutations note their name argument in `calls`, so the test sees their order. */
static void note_call(tq_field_ctx *fc)
{
    const tq_value *name = tq_field_arg(fc, "name");
    size_t len = strlen(calls);
    snprintf(calls + len, sizeof(calls) - len, "%s%.*s", len ? " " : "", (int)name->u.s.len, name->u.s.s);
}

static int step_count;

static void resolve_step(tq_field_ctx *fc)
{
    note_call(fc);
    tq_field_resolve(fc, tq_value_int(++step_count));
}

static void resolve_later_step(tq_field_ctx *fc)
{
    note_call(fc);
    answer_later(fc, tq_value_int(++step_count));
}

static void resolve_fail_step(tq_field_ctx *fc)
{
    note_call(fc);
    tq_field_error(fc, "BAD_USER_INPUT", "Step failed.");
}

static void resolve_soft_fail(tq_field_ctx *fc)
{
    note_call(fc);
    tq_field_error(fc, NULL, "Soft failure.");
}

static const tq_resolver_binding resolvers[] = {
    {"Query.person", resolve_person},    {"Query.later", resolve_later},
    {"Query.people", resolve_people},    {"Query.nodes", resolve_nodes},
    {"Query.pets", resolve_pets},        {"Query.echo", resolve_echo},
    {"Query.strict", resolve_strict},    {"Query.stray", resolve_stray},
    {"Person.best", resolve_best},       {"Person.friends", resolve_friends},
    {"Person.slowName", resolve_slow_name}, {"Person.oops", resolve_oops},
    {"Mutation.step", resolve_step},     {"Mutation.laterStep", resolve_later_step},
    {"Mutation.failStep", resolve_fail_step}, {"Mutation.softFail", resolve_soft_fail},
    {NULL, NULL},
};

/* ---- running documents ---- */

typedef struct run {
    tq_arena arena;
    tq_exec *ex;
    json_t *variables;
    int done;                /* on_done calls */
} run;

static void on_done(tq_exec *ex, void *data)
{
    (void)ex;
    ((run *)data)->done++;
}

/* Parses and starts a document; NULL (and a failed check) when it does not parse. */
static run *start(const char *query, const char *variables, const char *operation)
{
    run *r = calloc(1, sizeof(*r));
    tq_arena_init(&r->arena, 4096);
    tq_gql_parse_options po = {false, 64, 20000};
    tq_gql_parse_error pe;
    tq_gql_document *doc = tq_gql_parse(&r->arena, query, strlen(query), &po, &pe);
    if (doc == NULL) {
        fprintf(stderr, "does not parse: %s: %s\n", query, pe.message);
        CHECK(doc != NULL);
        tq_arena_free(&r->arena);
        free(r);
        return NULL;
    }
    if (variables != NULL) {
        json_error_t jerr;
        r->variables = json_loads(variables, 0, &jerr);
        CHECK(r->variables != NULL);
    }
    tq_exec_params p = {schema, doc, operation, r->variables, NULL, &r->arena, on_done, r, answer_cap};
    r->ex = tq_exec_create(&p);
    tq_exec_run(r->ex);
    return r;
}

/* The response of a finished run (malloc'ed), and the run freed. */
static char *finish(run *r)
{
    tq_strbuf b = TQ_STRBUF_INIT;
    tq_exec_write_response(r->ex, &b);
    char *out = strdup(tq_strbuf_cstr(&b));
    tq_strbuf_free(&b);
    json_decref(r->variables);
    tq_arena_free(&r->arena);
    free(r);
    return out;
}

/* Expected responses are written with ' for ", which JSON never needs inside them. */
static bool same_response(const char *got, const char *want)
{
    for (; *got != '\0' && *want != '\0'; got++, want++)
        if (*got != (*want == '\'' ? '"' : *want))
            return false;
    return *got == *want;
}

static void check_response_text(const char *file, int line, const char *what, const char *got, const char *want)
{
    if (same_response(got, want)) {
        tq_test_passed++;
    } else {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: %s\n  got  %s\n  want %s\n", file, line, what, got, want);
    }
}
#define CHECK_RESPONSE(got, want) check_response_text(__FILE__, __LINE__, "response", (got), (want))

static void check_response(const char *file, int line, const char *query, const char *variables, const char *operation,
                           const char *want)
{
    run *r = start(query, variables, operation);
    if (r == NULL)
        return;
    while (run_one_later())
        ;
    if (r->done != 1) {
        tq_test_failed++;
        fprintf(stderr, "%s:%d: on_done ran %d times for %s\n", file, line, r->done, query);
    }
    char *got = finish(r);
    check_response_text(file, line, query, got, want);
    free(got);
}
#define RUN(q, want) check_response(__FILE__, __LINE__, (q), NULL, NULL, (want))
#define RUN_VARS(q, vars, want) check_response(__FILE__, __LINE__, (q), (vars), NULL, (want))
#define RUN_OP(q, op, want) check_response(__FILE__, __LINE__, (q), NULL, (op), (want))

/* ---- tests ---- */

static void test_fields_and_aliases(void)
{
    RUN("{ person(id: \"1\") { id name age } }", "{'data':{'person':{'id':'1','name':'Ann','age':30}}}");
    /* aliases: one field twice with other arguments; response keys in query order */
    RUN("{ b: person(id: \"2\") { name } a: person(id: \"1\") { who: name n: name } }",
        "{'data':{'b':{'name':'Bob'},'a':{'who':'Ann','n':'Ann'}}}");
    /* the same response key twice merges the sub-selections */
    RUN("{ person(id: \"1\") { name } person(id: \"1\") { age name } }",
        "{'data':{'person':{'name':'Ann','age':30}}}");
    RUN("{ person(id: \"9\") { name } }", "{'data':{'person':null}}");
    RUN("{ people { name friends { id } } }",
        "{'errors':[{'message':'Cannot return null for non-nullable field Person.friends.','locations':[{"
        "'line':1,'column':17}],'path':['people',2,'friends',1]}],'data':{'people':[{'name':'Ann',"
        "'friends':[{'id':'2'},{'id':'3'}]},{'name':'Bob','friends':[{'id':'1'}]},{'name':null,"
        "'friends':null}]}}");
    RUN("{ __typename person(id: \"3\") { __typename t: __typename } }",
        "{'data':{'__typename':'Query','person':{'__typename':'Person','t':'Person'}}}");
}

/* Many response keys in one selection (the executor then finds them by map) merge as few
 * do; a fragment spread in two selections gives its fields to both. */
static void test_many_keys(void)
{
    char query[8192] = "{ a: person(id: \"1\") { ...F } b: person(id: \"2\") { ...F } ",
         want[4096] = "{'data':{'a':{'name':'Ann','id':'1'},'b':{'name':'Bob','id':'2'}";
    for (int i = 0; i < 40; i++) {
        snprintf(query + strlen(query), sizeof(query) - strlen(query), "k%d: person(id: \"%d\") { id } ", i, i % 3 + 1);
        snprintf(want + strlen(want), sizeof(want) - strlen(want), ",'k%d':{'id':'%d','name':%s}", i, i % 3 + 1,
                 i % 3 == 0 ? "'Ann'" : i % 3 == 1 ? "'Bob'" : "null");
    }
    for (int i = 0; i < 40; i++) /* the same keys again: merged into the first ones */
        snprintf(query + strlen(query), sizeof(query) - strlen(query), "k%d: person(id: \"%d\") { name } ", i,
                 i % 3 + 1);
    strcat(query, "} fragment F on Person { name ...G } fragment G on Person { id ...F }");
    strcat(want, "}}");
    check_response(__FILE__, __LINE__, query, NULL, NULL, want);
}

static void test_null_propagation(void)
{
    /* a non-null field that is null nulls its parent, the nearest nullable position */
    RUN("{ person(id: \"2\") { name best { name } } }",
        "{'errors':[{'message':'Cannot return null for non-nullable field Person.best.','locations':[{"
        "'line':1,'column':26}],'path':['person','best']}],'data':{'person':null}}");
    /* through several non-null levels: [Person!]! nulls up to data */
    RUN("{ people { best { best { name } } } }",
        "{'errors':[{'message':'Cannot return null for non-nullable field Person.best.','locations':[{"
        "'line':1,'column':19}],'path':['people',0,'best','best']}],'data':null}");
    /* a field error on a non-null root field nulls data */
    RUN("{ person(id: \"1\") { name } strict }",
        "{'errors':[{'message':'Strict failed.','locations':[{'line':1,'column':28}],'path':['strict']}],"
        "'data':null}");
    /* a null item in a list of non-null items nulls the list, the first null reported only */
    RUN("{ person(id: \"3\") { friends { name } } }",
        "{'errors':[{'message':'Cannot return null for non-nullable field Person.friends.','locations':[{"
        "'line':1,'column':21}],'path':['person','friends',1]}],'data':{'person':{'friends':null}}}");
    /* the same with the object answering later */
    RUN("{ later(id: \"2\") { slowName best { name } } ok: person(id: \"1\") { name } }",
        "{'errors':[{'message':'Cannot return null for non-nullable field Person.best.','locations':[{"
        "'line':1,'column':29}],'path':['later','best']}],'data':{'later':null,'ok':{'name':'Ann'}}}");
}

static void test_errors(void)
{
    /* a resolver's error: message, code, the locations of every merged node, the path */
    RUN("{ people { oops } p: person(id: \"1\") { oops ...F } } fragment F on Person { oops }",
        "{'errors':[{'message':'No oops for 1.','locations':[{'line':1,'column':12}],'path':['people',0,"
        "'oops'],'extensions':{'code':'TEST_CODE'}},{'message':'No oops for 2.','locations':[{'line':1,"
        "'column':12}],'path':['people',1,'oops'],'extensions':{'code':'TEST_CODE'}},{'message':"
        "'No oops for 3.','locations':[{'line':1,'column':12}],'path':['people',2,'oops'],'extensions':{"
        "'code':'TEST_CODE'}},{'message':'No oops for 1.','locations':[{'line':1,'column':40},{'line':1,"
        "'column':77}],'path':['p','oops'],'extensions':{'code':'TEST_CODE'}}],'data':{'people':[{'oops':"
        "null},{'oops':null},{'oops':null}],'p':{'oops':null}}}");
    /* an abstract field resolving to an object that is not one of its possible types */
    RUN("{ stray { id } }",
        "{'errors':[{'message':'Abstract type \\'Node\\' must resolve to an Object type at runtime for field "
        "\\'Query.stray\\'.','locations':[{'line':1,'column':3}],'path':['stray']}],'data':{'stray':"
        "null}}");
    /* operation selection */
    RUN("query A { __typename } query B { __typename }",
        "{'errors':[{'message':'Must provide operation name if query contains multiple operations.'}]}");
    RUN_OP("query A { __typename } query B { __typename }", "C",
           "{'errors':[{'message':'Unknown operation named \\'C\\'.'}]}");
    RUN_OP("query A { a: __typename } query B { b: __typename }", "B", "{'data':{'b':'Query'}}");
    RUN("fragment F on Query { __typename }", "{'errors':[{'message':'Must provide an operation.'}]}");
    RUN("subscription { __typename }",
        "{'errors':[{'message':'Schema is not configured to execute subscription operation.','locations':[{"
        "'line':1,'column':1}]}],'data':null}");
}

static void test_argument_coercion(void)
{
    RUN("{ echo }", "{'data':{'echo':'{s:`dflt`}'}}");
    RUN("{ echo(color: GREEN, n: 3, list: 4, s: null) }", "{'data':{'echo':'{color:GREEN n:3 list:[4] s:null}'}}");
    RUN("{ echo(filter: {min: 1, names: \"a\", nested: {min: 2, color: BLUE}}) }",
        "{'data':{'echo':'{filter:{color:RED names:[`a`] min:1 nested:{color:BLUE min:2}} s:`dflt`}'}}");
    /* a bad argument is a field error at that field; the other fields still run */
    RUN("{ a: echo(n: 1.5) b: echo(n: 1) }",
        "{'errors':[{'message':'Argument \\'n\\' has invalid value: Int cannot represent non-integer value: "
        "1.5','locations':[{'line':1,'column':3}],'path':['a'],'extensions':{'code':"
        "'BAD_USER_INPUT'}}],'data':{'a':null,'b':'{n:1 s:`dflt`}'}}");
    RUN("{ echo(filter: {names: [\"a\"]}) }",
        "{'errors':[{'message':'Argument \\'filter\\' has invalid value: Field \\'Filter.min\\' of required "
        "type \\'Int!\\' was not provided.','locations':[{'line':1,'column':3}],'path':['echo'],"
        "'extensions':{'code':'BAD_USER_INPUT'}}],'data':{'echo':null}}");
    RUN("{ person { id } }",
        "{'errors':[{'message':'Argument \\'id\\' of required type \\'ID!\\' was not provided.','locations':[{"
        "'line':1,'column':3}],'path':['person'],'extensions':{'code':'BAD_USER_INPUT'}}],'data':{"
        "'person':null}}");
    RUN("{ echo(color: PURPLE) }",
        "{'errors':[{'message':'Argument \\'color\\' has invalid value: Value does not exist in \\'Color\\' "
        "enum.','locations':[{'line':1,'column':3}],'path':['echo'],'extensions':{'code':"
        "'BAD_USER_INPUT'}}],'data':{'echo':null}}");
}

static void test_variable_coercion(void)
{
    static const char q[] = "query Q($f: Filter, $c: Color = BLUE, $n: Int, $l: [Int!]) "
                            "{ echo(filter: $f, color: $c, n: $n, list: $l) }";
    RUN_VARS(q, "{}", "{'data':{'echo':'{color:BLUE s:`dflt`}'}}");
    RUN_VARS(q, "{\"f\": {\"min\": 1, \"names\": [\"x\", \"y\"]}, \"c\": \"RED\", \"n\": null, \"l\": 7}",
             "{'data':{'echo':'{filter:{color:RED names:[`x` `y`] min:1} color:RED n:null list:[7] s:`dflt`}'}}");
    /* errors are request errors: every bad variable reported at its definition, no data */
    RUN_VARS(q, "{\"f\": {\"names\": [null]}, \"c\": \"PURPLE\", \"n\": 1.5, \"l\": [1, 2.5]}",
             "{'errors':[{'message':'Variable \\'$f\\' got invalid value {\\'names\\':[null]}; Expected "
             "non-nullable type \\'String!\\' not to be null.','locations':[{'line':1,'column':9}],"
             "'extensions':{'code':'BAD_USER_INPUT'}},{'message':'Variable \\'$c\\' got invalid value "
             "\\'PURPLE\\'; Value \\'PURPLE\\' does not exist in \\'Color\\' enum.','locations':[{'line':1,"
             "'column':21}],'extensions':{'code':'BAD_USER_INPUT'}},{'message':'Variable \\'$n\\' got "
             "invalid value 1.5; Int cannot represent non-integer value: 1.5','locations':[{'line':1,'column':"
             "39}],'extensions':{'code':'BAD_USER_INPUT'}},{'message':'Variable \\'$l\\' got invalid value "
             "[1,2.5]; Int cannot represent non-integer value: 2.5','locations':[{'line':1,'column':"
             "48}],'extensions':{'code':'BAD_USER_INPUT'}}]}");
    RUN_VARS("query Q($id: ID!) { person(id: $id) { name } }", "{}",
             "{'errors':[{'message':'Variable \\'$id\\' of required type \\'ID!\\' was not provided.',"
             "'locations':[{'line':1,'column':9}],'extensions':{'code':'BAD_USER_INPUT'}}]}");
    RUN_VARS("query Q($id: ID!) { person(id: $id) { name } }", "{\"id\": null}",
             "{'errors':[{'message':'Variable \\'$id\\' of non-null type \\'ID!\\' must not be null.',"
             "'locations':[{'line':1,'column':9}],'extensions':{'code':'BAD_USER_INPUT'}}]}");
    RUN_VARS("query Q($id: ID!) { person(id: $id) { name } }", "{\"id\": 3}",
             "{'data':{'person':{'name':null}}}");
    RUN_VARS("query Q($f: Filter) { echo(filter: $f) }", "{\"f\": {\"min\": 1, \"max\": 2}}",
             "{'errors':[{'message':'Variable \\'$f\\' got invalid value {\\'min\\':1,\\'max\\':2}; Field "
             "\\'max\\' is not defined by type \\'Filter\\'.','locations':[{'line':1,'column':9}],"
             "'extensions':{'code':'BAD_USER_INPUT'}}]}");
    /* a variable not provided leaves the argument out, so its default applies */
    RUN_VARS("query Q($s: String) { echo(s: $s) }", "{}", "{'data':{'echo':'{s:`dflt`}'}}");
    RUN_VARS("query Q($s: String) { echo(s: $s) }", "{\"s\": null}", "{'data':{'echo':'{s:null}'}}");
}

static void test_skip_include(void)
{
    RUN("{ person(id: \"1\") { id @skip(if: true) name @include(if: false) age @skip(if: false) @include(if: true) } }",
        "{'data':{'person':{'age':30}}}");
    static const char q[] = "query Q($yes: Boolean!) { person(id: \"1\") { ... on Person @include(if: $yes) { name } "
                            "...F @skip(if: $yes) } } fragment F on Person { age }";
    RUN_VARS(q, "{\"yes\": true}", "{'data':{'person':{'name':'Ann'}}}");
    RUN_VARS(q, "{\"yes\": false}", "{'data':{'person':{'age':30}}}");
    /* skipped in one place, selected in another: selected */
    RUN("{ person(id: \"1\") { name @skip(if: true) ... { name } } }", "{'data':{'person':{'name':'Ann'}}}");
}

static void test_fragments_on_abstract_types(void)
{
    RUN("{ nodes { __typename id ... on Person { age } ... on Dog { barks } ...N } } fragment N on Named { name }",
        "{'data':{'nodes':[{'__typename':'Person','id':'1','age':30,'name':'Ann'},{'__typename':"
        "'Dog','id':'d1','barks':true,'name':'Rex'},null,{'__typename':'Cat','id':'c1','name':"
        "'Tom'}]}}");
    RUN("{ pets { ... on Cat { lives name } ... on Dog { name barks } ... on Node { id } } }",
        "{'data':{'pets':[{'lives':9,'name':'Tom','id':'c1'},{'name':'Rex','barks':true,'id':"
        "'d1'}]}}");
    /* a fragment spread twice, and one spreading itself (invalid, but execution must end) */
    RUN("{ person(id: \"1\") { ...F ...F } } fragment F on Person { name ...F }",
        "{'data':{'person':{'name':'Ann'}}}");
    RUN("{ person(id: \"1\") { pets { __typename } } }", "{'data':{'person':{'pets':null}}}");
}

static void test_deferred_answers(void)
{
    /* nothing is final before the deferred answers come; on_done runs once, after them */
    run *r = start("{ a: later(id: \"1\") { slowName best { slowName } } b: later(id: \"3\") { name } }", NULL, NULL);
    if (r == NULL)
        return;
    CHECK(r->done == 0 && queue_len == 2);
    CHECK(run_one_later());                  /* a: its slowName and best.slowName wait now */
    CHECK(r->done == 0 && queue_len == 3);
    while (run_one_later())
        ;
    CHECK(r->done == 1);
    char *got = finish(r);
    CHECK_RESPONSE(got, "{'data':{'a':{'slowName':'Ann','best':{'slowName':'Bob'}},'b':{'name':null}}}");
    free(got);

    /* an answer for a branch already nulled is dropped */
    r = start("{ person(id: \"2\") { slowName best { id } } }", NULL, NULL);
    if (r == NULL)
        return;
    CHECK(r->done == 0 && queue_len == 1);
    CHECK(run_one_later());
    CHECK(r->done == 1);
    got = finish(r);
    CHECK_RESPONSE(got, "{'errors':[{'message':'Cannot return null for non-nullable field Person.best.','locations':"
                   "[{'line':1,'column':30}],'path':['person','best']}],'data':{'person':null}}");
    free(got);
}

/* The bytes of a response's data, as the answer cap counts them. */
static size_t data_bytes(const char *response)
{
    return strlen(response) - strlen("{\"data\":}");
}

static void test_answer_cap(void)
{
    /* the cap counts exactly the answer's bytes: at its size it passes, a byte less stops it */
    const char *q = "{ people { id name age } n: nodes { id ... on Dog { barks } } }";
    answer_cap = 0;
    char *full = finish(start(q, NULL, NULL));
    size_t size = data_bytes(full);
    answer_cap = size;
    char *same = finish(start(q, NULL, NULL));
    CHECK_STR(same, full);
    answer_cap = size - 1;
    run *r = start(q, NULL, NULL);
    size_t counted;
    CHECK(r->done == 1 && tq_exec_answer_too_large(r->ex, &counted) && counted == size);
    CHECK(tq_exec_is_request_error(r->ex));
    char *cut = finish(r);
    CHECK(strstr(cut, "\"data\"") == NULL);
    CHECK(strstr(cut, "\"code\":\"QUERY_TOO_COMPLEX\",\"limit\":{\"name\":\"response_bytes\"") != NULL);
    free(full);
    free(same);
    free(cut);

    /* answers arriving after the stop are dropped; on_done runs once, when all are in */
    answer_cap = 40;
    r = start("{ a: later(id: \"1\") { name slowName best { slowName } } b: later(id: \"3\") { name } }", NULL, NULL);
    CHECK(r->done == 0 && queue_len == 2);
    CHECK(run_one_later()); /* a's object passes the cap: nothing more starts */
    CHECK(r->done == 0 && queue_len == 1);
    CHECK(run_one_later());
    CHECK(r->done == 1 && queue_len == 0 && tq_exec_answer_too_large(r->ex, NULL));
    cut = finish(r);
    CHECK(strstr(cut, "QUERY_TOO_COMPLEX") != NULL && strstr(cut, "Ann") == NULL);
    free(cut);

    /* a mutation stops with the field that passes it: the ones after it never run */
    calls[0] = '\0';
    answer_cap = strlen("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}") - 2;
    r = start("mutation { a: step(name: \"a\") b: step(name: \"b\") c: step(name: \"c\") d: step(name: \"d\") }", NULL,
              NULL);
    CHECK(r->done == 1 && tq_exec_answer_too_large(r->ex, NULL));
    CHECK_STR(calls, "a b c");
    free(finish(r));
    answer_cap = 0;
}

static void test_serial_mutations(void)
{
    /* each field starts only when the one before has answered */
    calls[0] = '\0';
    step_count = 0;
    run *r = start("mutation { a: step(name: \"a\") b: laterStep(name: \"b\") c: step(name: \"c\") }", NULL, NULL);
    if (r == NULL)
        return;
    CHECK_STR(calls, "a b");
    CHECK(r->done == 0);
    CHECK(run_one_later());
    CHECK_STR(calls, "a b c");
    CHECK(r->done == 1);
    char *got = finish(r);
    CHECK_RESPONSE(got, "{'data':{'a':1,'b':2,'c':3}}");
    free(got);

    /* a failing non-null field makes data null and the fields after it never run */
    calls[0] = '\0';
    step_count = 0;
    RUN("mutation { a: laterStep(name: \"a\") b: failStep(name: \"b\") c: step(name: \"c\") }",
        "{'errors':[{'message':'Step failed.','locations':[{'line':1,'column':36}],'path':['b'],"
        "'extensions':{'code':'BAD_USER_INPUT'}}],'data':null}");
    CHECK_STR(calls, "a b");

    /* a failing nullable field is null, and the rest still run */
    calls[0] = '\0';
    step_count = 0;
    RUN("mutation { a: softFail(name: \"a\") b: laterStep(name: \"b\") }",
        "{'errors':[{'message':'Soft failure.','locations':[{'line':1,'column':12}],'path':['a']}],"
        "'data':{'a':null,'b':1}}");
    CHECK_STR(calls, "a b");

    /* a bad argument of a non-null mutation field stops the rest too */
    calls[0] = '\0';
    RUN("mutation { a: failStep(name: 1) b: step(name: \"b\") }",
        "{'errors':[{'message':'Argument \\'name\\' has invalid value: String cannot represent a non string "
        "value: 1','locations':[{'line':1,'column':12}],'path':['a'],'extensions':{'code':"
        "'BAD_USER_INPUT'}}],'data':null}");
    CHECK_STR(calls, "");
    RUN("mutation { __typename }", "{'data':{'__typename':'Mutation'}}");
}

int main(void)
{
    char err[512] = "";
    tq_schema *s = tq_schema_build(sdl, strlen(sdl), resolvers, NULL, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "schema refused: %s\n", err);
        return 1;
    }
    schema = s;
    test_fields_and_aliases();
    test_many_keys();
    test_null_propagation();
    test_errors();
    test_argument_coercion();
    test_variable_coercion();
    test_skip_include();
    test_fragments_on_abstract_types();
    test_deferred_answers();
    test_answer_cap();
    test_serial_mutations();
    tq_schema_free(s);
    return TQ_TEST_REPORT();
}
