import pytest


@pytest.fixture(autouse=True)
def _one_event_per_entry(settings):
    """Each event its own numbered entry in the shared buffer, as if every process sent at once:
    the buffer's ordering and gap rules are tested entry by entry (test_recorder.py tests the
    batching itself with the default settings)."""
    settings.ANALYTICS_BUFFER_EVENTS = 1
