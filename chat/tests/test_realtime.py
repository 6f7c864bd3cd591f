"""The live-event brokers: in-process (runserver, tests) and Redis (several processes)."""
import threading
import time

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


@pytest.mark.redis
def test_many_streams_in_one_process_share_one_redis_connection_and_each_gets_its_own_messages(monkeypatch, settings):
    import os
    import uuid

    import redis

    from chat import views

    url = os.environ["REDIS_URL"]
    name = f"chat-test-{uuid.uuid4().hex[:12]}"
    hub = realtime._RedisBroker(url, client_name=name)
    monkeypatch.setattr(realtime, "broker", lambda: hub)
    settings.CHAT_STREAM_SECONDS = 30
    conversations = [990_000 + n for n in range(20)]
    streams = []
    for n in range(80):  # four streams on each conversation
        conversation = conversations[n % len(conversations)]
        stream = views.event_stream(conversation_id=conversation, after=0, staff=True, messages_after=lambda cursor: [])
        assert next(stream).startswith("retry:")  # subscribed, confirmed by Redis
        streams.append((conversation, stream))
    try:
        named = [c for c in redis.Redis.from_url(url).client_list() if c.get("name") == name]
        assert len(named) == 1, f"{len(named)} subscriber connections for 80 streams"

        publisher = realtime._RedisBroker(url)
        for conversation in conversations:
            publisher.publish(realtime.conversation_channel(conversation),
                              {"type": "message", "id": conversation, "body": f"for {conversation}"})

        for conversation, stream in streams:
            chunk = next(stream)
            assert f"id: {conversation}\n" in chunk and f'"body":"for {conversation}"' in chunk
            assert chunk.count("event: message") == 1  # its own message, once, nobody else's
    finally:
        for _conversation, stream in streams:
            stream.close()
    assert hub._listeners == {}  # the last stream of a conversation unsubscribed it


def test_a_subscription_redis_refuses_leaves_nothing_behind_for_the_next_listener():
    """No server needed: the subscriber's pub/sub is replaced by one that fails like a dropped
    connection, then works again."""
    import redis

    hub = realtime._RedisBroker("redis://127.0.0.1:1/0", client_name="unused")

    class FlakyPubSub:
        def __init__(self):
            self.fail = True

        def subscribe(self, *channels):
            if self.fail:
                raise redis.ConnectionError("Connection refused")

            def confirm():  # what the reader thread does with Redis's confirmations
                with hub._confirm:
                    for channel in channels:
                        hub._confirmed[channel] = hub._confirmed.get(channel, 0) + 1
                    hub._confirm.notify_all()

            threading.Thread(target=confirm).start()

        def unsubscribe(self, *channels):
            pass

    flaky = FlakyPubSub()
    hub._pubsub, hub._reader, hub._pid = flaky, threading.current_thread(), __import__("os").getpid()

    with pytest.raises(redis.ConnectionError):
        hub.listen(["chat:conversation:1"])
    assert hub._listeners == {} and hub._sent == {"chat:conversation:1": 0}

    flaky.fail = False
    started = time.monotonic()
    listener = hub.listen(["chat:conversation:1"])
    assert time.monotonic() - started < 4  # confirmed: it did not wait out the 5 s for a lost one
    assert hub._listeners == {"chat:conversation:1": {listener}}
    listener.close()
    assert hub._listeners == {}
