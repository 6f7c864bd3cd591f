import pytest


@pytest.fixture(autouse=True)
def _one_event_per_entry(settings):
    """Each event its own numbered entry in the shared buffer, as if every process sent at once:
    the buffer's ordering and gap rules are tested entry by entry (test_recorder.py tests the
    batching itself with the default settings)."""
    settings.ANALYTICS_BUFFER_EVENTS = 1


@pytest.fixture(autouse=True)
def _no_timer_from_another_test():
    """A web-process test elsewhere (BACKGROUND_THREAD on) may have left the recorder's hand-over
    timer running: it must not hand over this test's waiting events in the middle of it."""
    from analytics import recorder

    if recorder._timer is not None:
        recorder._timer.cancel()
        recorder._timer = None
    yield
