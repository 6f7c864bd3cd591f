"""The live-event brokers: in-process (runserver, tests) and Redis (several processes)."""
import threading

import pytest

from chat import realtime


def test_the_memory_broker_keeps_what_was_published_between_two_reads():
    broker = realtime._MemoryBroker()
    listener = broker.listen(["a", "b"])
    broker.publish("a", {"n": 1})
    broker.publish("c", {"n": 2})  # not listened to
    broker.publish("b", {"n": 3})

    assert listener.get(timeout=0) == [{"n": 1}, {"n": 3}]
    assert listener.get(timeout=0) == []  # each event once


def test_a_memory_listener_wakes_when_another_thread_publishes():
    broker = realtime._MemoryBroker()
    listener = broker.listen(["a"])
    started = threading.Event()

    def publish():
        started.wait(5)
        broker.publish("a", {"n": 1})

    thread = threading.Thread(target=publish)
    thread.start()
    started.set()
    got = listener.get(timeout=10)
    thread.join(5)

    assert got == [{"n": 1}]


def test_a_listener_sees_nothing_from_before_it_listened():
    broker = realtime._MemoryBroker()
    broker.publish("a", {"n": 0})
    listener = broker.listen(["a"])

    assert listener.get(timeout=0) == []


@pytest.mark.redis
def test_redis_delivers_across_connections_once_and_only_after_subscribing():
    import os

    url = os.environ["REDIS_URL"]
    publisher, subscriber = realtime._RedisBroker(url), realtime._RedisBroker(url)
    channel = "chat:test:redis-delivery"
    publisher.publish(channel, {"n": 0})  # before anyone listens: lost by design (the stream replays)
    listener = subscriber.listen([channel])
    try:
        publisher.publish(channel, {"n": 1})  # right after listen returns: must arrive
        publisher.publish(channel, {"n": 2})
        got = []
        while len(got) < 2:
            events = listener.get(timeout=5)
            assert events, "an event published after listen() returned never arrived"
            got += events
        assert got == [{"n": 1}, {"n": 2}]
        assert listener.get(timeout=0.2) == []
    finally:
        listener.close()
