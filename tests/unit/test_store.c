/* test_store.c - the id store: lookups, history order, paging, eviction past a cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/store.c"

struct item {
    char id[40];            /* key */
    bool finished;          /* may be evicted */
    int released;           /* times the store released it */
    struct store_node node; /* in the store */
};

static bool item_may_evict(const struct store_node *n)
{
    return STORE_ENTRY(n, struct item, node)->finished;
}

static void item_release(struct store_node *n)
{
    STORE_ENTRY(n, struct item, node)->released++;
}

static const struct store_ops item_ops = {item_may_evict, item_release};

/* n items "id-0".."id-<n-1>", inserted in that order (so id-<n-1> is the newest). */
static struct item *items_add(struct store *s, size_t n)
{
    struct item *it = calloc(n, sizeof(*it));

    assert_non_null(it);
    for (size_t i = 0; i < n; i++) {
        snprintf(it[i].id, sizeof(it[i].id), "id-%zu", i);
        store_insert(s, &it[i].node, it[i].id);
    }
    return it;
}

/* The ids of the history, newest first, joined by ','. */
static void history(struct store *s, char *out, size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    STORE_FOREACH(s, n)
    {
        len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "", n->id);
    }
}

static void test_store_insert_find_remove(void **state)
{
    struct store *s = malloc(sizeof(*s));
    struct item *it;
    char h[256];

    (void)state;
    store_init(s, &item_ops);
    assert_null(store_find(s, "id-0"));
    it = items_add(s, 3);
    assert_int_equal(s->count, 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(store_find(s, it[i].id), &it[i].node);
    assert_ptr_equal(STORE_ENTRY(store_find(s, "id-1"), struct item, node), &it[1]);
    assert_null(store_find(s, "id-3"));
    assert_null(store_find(s, "id-"));
    store_remove(s, &it[1].node);
    assert_int_equal(s->count, 2);
    assert_null(store_find(s, "id-1"));
    assert_int_equal(it[1].released, 0); /* remove hands the reference back, no release */
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-2,id-0");
    store_remove(s, &it[2].node); /* the newest */
    store_remove(s, &it[0].node); /* the oldest, now the last */
    assert_null(s->newest);
    assert_null(s->oldest);
    assert_int_equal(s->count, 0);
    store_done(s);
    free(it);
    free(s);
}

static void test_store_history_is_newest_first(void **state)
{
    struct store *s = malloc(sizeof(*s));
    struct item *it;
    char h[256];

    (void)state;
    store_init(s, &item_ops);
    it = items_add(s, 4);
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-3,id-2,id-1,id-0");
    assert_ptr_equal(s->oldest, &it[0].node);
    store_remove(s, &it[0].node);
    assert_ptr_equal(s->oldest, &it[1].node);
    assert_null(it[1].node.older);
    store_done(s);
    for (int i = 1; i < 4; i++)
        assert_int_equal(it[i].released, 1);
    assert_int_equal(it[0].released, 0);
    assert_int_equal(s->count, 0);
    free(it);
    free(s);
}

struct page {
    char ids[256]; /* visited, joined by ',' */
    size_t len;
};

static bool page_odd(const struct store_node *n, void *arg)
{
    (void)arg;
    return (n->id[strlen(n->id) - 1] - '0') % 2 == 1;
}

static void page_visit(struct store_node *n, void *arg)
{
    struct page *p = arg;

    p->len += (size_t)snprintf(p->ids + p->len, sizeof(p->ids) - p->len, "%s%s", p->len ? "," : "",
                               n->id);
}

static void test_store_page_limit_offset_filter(void **state)
{
    static const struct {
        size_t offset, limit;
        bool odd;
        const char *want;
        size_t total;
    } rows[] = {
        {0, 100, false, "id-9,id-8,id-7,id-6,id-5,id-4,id-3,id-2,id-1,id-0", 10},
        {0, 3, false, "id-9,id-8,id-7", 10},
        {8, 3, false, "id-1,id-0", 10},
        {10, 3, false, "", 10},
        {2, 0, false, "", 10},
        {0, 100, true, "id-9,id-7,id-5,id-3,id-1", 5},
        {1, 2, true, "id-7,id-5", 5},
        {4, 2, true, "id-1", 5},
    };
    struct store *s = malloc(sizeof(*s));
    struct item *it;

    (void)state;
    store_init(s, &item_ops);
    it = items_add(s, 10);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct page p = {.len = 0};
        size_t total = store_page(s, rows[i].offset, rows[i].limit, rows[i].odd ? page_odd : NULL,
                                  page_visit, &p);

        assert_string_equal(p.ids, rows[i].want);
        assert_int_equal(total, rows[i].total);
    }
    store_done(s);
    free(it);
    free(s);
}

/* A byte budget: each item weighs its index + 1; the newest is always kept. */
struct weigh {
    size_t bytes, cap;
    const struct item *keep; /* never evicted */
    int offered;             /* entries offered to the pick */
};

static enum store_pick weigh_pick(const struct store_node *n, void *arg)
{
    struct weigh *w = arg;
    const struct item *it = STORE_ENTRY(n, struct item, node);
    size_t cost = (size_t)atoi(it->id + 3) + 1;

    w->offered++;
    if (w->bytes <= w->cap)
        return STORE_STOP;
    if (it == w->keep)
        return STORE_KEEP;
    w->bytes -= cost;
    return STORE_EVICT;
}

static void test_store_evict_if_by_weight(void **state)
{
    struct store *s = malloc(sizeof(*s));
    struct item *it;
    struct weigh w = {0};
    char h[256];

    (void)state;
    store_init(s, &item_ops);
    it = items_add(s, 5); /* weights 1..5, 15 in all */
    it[1].finished = it[2].finished = it[3].finished = it[4].finished = true;
    /* Down to 10: id-1 (2) and id-2 (3) go; the running id-0 is never offered. */
    w = (struct weigh){15, 10, NULL, 0};
    assert_int_equal(store_evict_if(s, weigh_pick, &w), 2);
    assert_int_equal(w.bytes, 10);
    w.cap = 6;
    assert_int_equal(store_evict_if(s, weigh_pick, &w), 1);
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-4,id-0");
    assert_int_equal(w.bytes, 6);
    /* The entry the owner keeps (the one just published) stays even when over the budget; the
     * pick is offered every evictable one. */
    w.cap = 0;
    w.keep = &it[4];
    w.offered = 0;
    assert_int_equal(store_evict_if(s, weigh_pick, &w), 0);
    assert_int_equal(w.offered, 1);
    assert_int_equal(it[0].released, 0);
    assert_int_equal(it[1].released + it[2].released + it[3].released, 3);
    store_done(s);
    free(it);
    free(s);
}

static void test_store_evict_skips_unfinished(void **state)
{
    struct store *s = malloc(sizeof(*s));
    struct item *it;
    char h[256];

    (void)state;
    store_init(s, &item_ops);
    it = items_add(s, 6);
    /* id-0 and id-2 still run; the others are finished. */
    for (int i = 0; i < 6; i++)
        it[i].finished = i != 0 && i != 2;
    /* Under the cap nothing goes. */
    assert_int_equal(store_evict(s, s->count, 6), 0);
    /* Two over: the two oldest finished go (id-1, id-3), the running id-0 and id-2 stay. */
    assert_int_equal(store_evict(s, s->count, 4), 2);
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-5,id-4,id-2,id-0");
    assert_int_equal(it[1].released, 1);
    assert_int_equal(it[3].released, 1);
    assert_int_equal(it[0].released + it[2].released + it[4].released + it[5].released, 0);
    /* A cap that counts only the finished ones (2 kept, cap 1): id-4 goes. */
    assert_int_equal(store_evict(s, 2, 1), 1);
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-5,id-2,id-0");
    /* Nothing evictable is left but id-5: a cap of 0 evicts only it, never a running one. */
    assert_int_equal(store_evict(s, s->count, 0), 1);
    history(s, h, sizeof(h));
    assert_string_equal(h, "id-2,id-0");
    assert_null(store_find(s, "id-5"));
    assert_non_null(store_find(s, "id-2"));
    store_done(s);
    for (int i = 0; i < 6; i++)
        assert_int_equal(it[i].released, 1);
    free(it);
    free(s);
}

static void test_store_many_ids(void **state)
{
    enum { N = 20000 }; /* several per bucket */
    struct store *s = malloc(sizeof(*s));
    struct item *it;
    size_t n = 0;

    (void)state;
    store_init(s, &item_ops);
    it = items_add(s, N);
    assert_int_equal(s->count, N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(store_find(s, it[i].id), &it[i].node);
    /* Remove every third, then look everything up again. */
    for (size_t i = 0; i < N; i += 3)
        store_remove(s, &it[i].node);
    for (size_t i = 0; i < N; i++) {
        if (i % 3 == 0)
            assert_null(store_find(s, it[i].id));
        else
            assert_ptr_equal(store_find(s, it[i].id), &it[i].node);
    }
    STORE_FOREACH(s, x)
    {
        n++;
    }
    assert_int_equal(n, s->count);
    /* All finished: a cap of 100 keeps the 100 newest. */
    for (size_t i = 0; i < N; i++)
        it[i].finished = true;
    assert_int_equal(store_evict(s, s->count, 100), n - 100);
    assert_int_equal(s->count, 100);
    assert_ptr_equal(s->newest, &it[N - 1].node);
    assert_non_null(store_find(s, it[N - 1].id));
    assert_null(store_find(s, it[1].id));
    store_done(s);
    free(it);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_insert_find_remove),
        cmocka_unit_test(test_store_history_is_newest_first),
        cmocka_unit_test(test_store_page_limit_offset_filter),
        cmocka_unit_test(test_store_evict_skips_unfinished),
        cmocka_unit_test(test_store_evict_if_by_weight),
        cmocka_unit_test(test_store_many_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
