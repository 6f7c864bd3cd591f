"""The test suite never leaves the web process's background thread (shop/background.py) running:
a runner that outlived its test ran the beat schedule against later tests' data and, after the
run, against a test database that was gone ("no such table: promotions_promotion")."""
from __future__ import annotations

import threading

import pytest

from conftest import stop_background_threads
from shop import background


@pytest.fixture(scope="module")
def runner_at_module_scope():
    """What a module-scoped fixture met once an earlier test in the process had made a request (a
    web process): catalog's `seeded_demo_module`, whose teardown deletes the demo products and so
    enqueues the listing index's rebuild, started the thread with the whole beat schedule."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(background, "_serves_web", True)
        runner = background.current() if background.takes_tasks() else None
    yield runner
    if runner is not None:
        background.shutdown()


def test_a_module_fixture_never_starts_the_background_thread(runner_at_module_scope):
    assert runner_at_module_scope is None, "a task enqueued outside a test started the thread and its schedule"


def test_the_runner_a_test_left_running_is_stopped_after_it(settings):
    # given: a test that turned the thread on and never stopped it
    settings.BACKGROUND_THREAD = True
    runner = background.current()
    ran = threading.Event()
    runner.submit(ran.set, name="queued job")

    # when: the suite's check after each test (the autouse fixture `_background_thread_stopped`)
    stop_background_threads()

    # then: what was queued ran, and the thread is gone
    assert ran.is_set()
    assert background._runner is None
    assert not any(thread.name == background.THREAD_NAME for thread in threading.enumerate())


def test_a_runner_thread_the_suite_cannot_stop_fails_the_test():
    # given: a runner a test made and started itself, and did not stop
    stray = background.Runner()
    stray.start()
    try:
        # when / then
        with pytest.raises(pytest.fail.Exception, match="background runner thread"):
            stop_background_threads()
    finally:
        assert stray.stop()
    stop_background_threads()  # and nothing left once it is stopped


def test_every_test_gets_the_check(request):
    assert "_background_thread_stopped" in request.fixturenames
