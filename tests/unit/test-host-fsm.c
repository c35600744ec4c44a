/* Unit tests for the host state machine and its backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host-fsm.h"

static void
test_happy_path(void **state)
{
    struct host_fsm fsm;

    (void) state;
    host_fsm_init(&fsm, 500, 8000, 0);
    assert_int_equal(fsm.state, HOST_CONNECTING);
    assert_false(host_fsm_update(&fsm, HOST_DB_CONNECTING, false, 10));

    assert_true(host_fsm_update(&fsm, HOST_DB_CONFIGURING, false, 20));
    assert_int_equal(fsm.state, HOST_SYNCING);
    assert_int_equal(fsm.since, 20);

    /* Bridge configured but switch not connected yet: still syncing. */
    assert_false(host_fsm_update(&fsm, HOST_DB_CONFIGURED, false, 30));
    assert_int_equal(fsm.state, HOST_SYNCING);

    assert_true(host_fsm_update(&fsm, HOST_DB_CONFIGURED, true, 40));
    assert_int_equal(fsm.state, HOST_READY);

    /* Switch connection lost: back to syncing, not lost. */
    assert_true(host_fsm_update(&fsm, HOST_DB_CONFIGURED, false, 50));
    assert_int_equal(fsm.state, HOST_SYNCING);
    assert_string_equal(host_state_to_string(fsm.state), "syncing");
}

static void
test_backoff_doubles_and_caps(void **state)
{
    struct host_fsm fsm;
    long long int now = 0;
    static const int expected[] = { 500, 1000, 2000, 4000, 8000, 8000 };

    (void) state;
    host_fsm_init(&fsm, 500, 8000, now);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        assert_true(host_fsm_update(&fsm, HOST_DB_DEAD, false, now));
        assert_int_equal(fsm.state, HOST_LOST);
        assert_int_equal(fsm.retry_at - now, expected[i]);
        assert_int_equal(fsm.n_failures, i + 1);

        /* Reports from the dead session change nothing while waiting. */
        assert_false(host_fsm_update(&fsm, HOST_DB_CONFIGURED, true, now));
        assert_false(host_fsm_should_retry(&fsm, fsm.retry_at - 1));
        assert_true(host_fsm_should_retry(&fsm, fsm.retry_at));

        now = fsm.retry_at;
        host_fsm_retry(&fsm, now);
        assert_int_equal(fsm.state, HOST_CONNECTING);
    }
}

static void
test_ready_resets_backoff(void **state)
{
    struct host_fsm fsm;

    (void) state;
    host_fsm_init(&fsm, 500, 8000, 0);
    host_fsm_update(&fsm, HOST_DB_DEAD, false, 0);
    host_fsm_retry(&fsm, 500);
    host_fsm_update(&fsm, HOST_DB_DEAD, false, 600);
    assert_int_equal(fsm.retry_at, 1600);
    host_fsm_retry(&fsm, 1600);
    host_fsm_update(&fsm, HOST_DB_CONFIGURED, true, 1700);
    assert_int_equal(fsm.state, HOST_READY);
    assert_int_equal(fsm.n_failures, 0);

    /* Lost after being ready: first retry at the minimum again. */
    host_fsm_update(&fsm, HOST_DB_DEAD, false, 5000);
    assert_int_equal(fsm.state, HOST_LOST);
    assert_int_equal(fsm.retry_at, 5500);
}

static void
test_bad_schema_retries_slowly(void **state)
{
    struct host_fsm fsm;

    (void) state;
    host_fsm_init(&fsm, 500, 8000, 0);
    assert_true(host_fsm_update(&fsm, HOST_DB_BAD_SCHEMA, false, 100));
    assert_int_equal(fsm.state, HOST_ERROR);
    assert_int_equal(fsm.retry_at, 8100);
    assert_false(host_fsm_should_retry(&fsm, 8099));
    assert_true(host_fsm_should_retry(&fsm, 8100));
    assert_string_equal(host_state_to_string(fsm.state), "error");
}

static void
test_max_below_min(void **state)
{
    struct host_fsm fsm;

    (void) state;
    host_fsm_init(&fsm, 500, 100, 0);
    host_fsm_update(&fsm, HOST_DB_DEAD, false, 0);
    assert_int_equal(fsm.retry_at, 500);
    host_fsm_retry(&fsm, 500);
    host_fsm_update(&fsm, HOST_DB_DEAD, false, 500);
    assert_int_equal(fsm.retry_at, 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),
        cmocka_unit_test(test_backoff_doubles_and_caps),
        cmocka_unit_test(test_ready_resets_backoff),
        cmocka_unit_test(test_bad_schema_retries_slowly),
        cmocka_unit_test(test_max_below_min),
    };
    return cmocka_run_group_tests_name("host-fsm", tests, NULL, NULL);
}
