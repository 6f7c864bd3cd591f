"""Live events for chat: publish after commit, listen from a server-sent-events stream.

Two brokers with one interface, chosen by settings (`CHAT_BROKER_URL`, default `REDIS_URL`):
- in-process (nothing installed, `make run`, tests): a condition variable and a short ring of
  recent events per channel, shared by the threads of one process;
- Redis pub/sub (several processes): each listener holds one pub/sub connection for the life of
  its stream.

Events are small dicts (`{"type": "message", "id": 12, ...}`). They are hints, not the record:
a stream replays from the database every message after the cursor its client sends, so an event
lost in transit (a restart, a dropped connection) costs nothing but a little delay until the
browser reconnects. Typing and "seen" are the only things carried by events alone.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from functools import cache

from django.conf import settings


def conversation_channel(conversation_id: int) -> str:
    return f"chat:conversation:{conversation_id}"


INBOX_CHANNEL = "chat:inbox"


class _MemoryBroker:
    """One process: listeners wait on a condition; each channel keeps its last 200 events with a
    sequence number, so a listener that was busy writing to its socket misses none of them."""

    KEEP = 200

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._events: dict[str, deque[tuple[int, dict]]] = {}
        self._sequence = itertools.count(1)
        self._latest = 0

    def publish(self, channel: str, event: dict) -> None:
        with self._condition:
            number = next(self._sequence)
            self._latest = number
            self._events.setdefault(channel, deque(maxlen=self.KEEP)).append((number, event))
            self._condition.notify_all()

    def listen(self, channels: Iterable[str]) -> _MemoryListener:
        with self._condition:
            return _MemoryListener(self, list(channels), self._latest)


class _MemoryListener:
    def __init__(self, broker: _MemoryBroker, channels: list[str], since: int) -> None:
        self._broker, self._channels, self._since = broker, channels, since

    def _pending(self) -> list[tuple[int, dict]]:
        found = [
            item for channel in self._channels
            for item in self._broker._events.get(channel, ()) if item[0] > self._since
        ]
        return sorted(found, key=lambda item: item[0])

    def get(self, timeout: float) -> list[dict]:
        """The events published since the last call, waiting up to `timeout` seconds for one."""
        condition = self._broker._condition
        with condition:
            pending = self._pending()
            if not pending:
                condition.wait_for(lambda: bool(self._pending()), timeout=timeout)
                pending = self._pending()
            if pending:
                self._since = pending[-1][0]
        return [event for _number, event in pending]

    def close(self) -> None:
        pass


class _RedisBroker:
    def __init__(self, url: str) -> None:
        import redis

        # Each open stream holds one pub/sub connection (redis-py's pool stops at 100 by default,
        # fewer than the streams one process may hold). One shared subscriber per process fanning
        # out to its streams would use one: the next step if connections become the limit.
        self._redis = redis.Redis.from_url(url, max_connections=10_000, socket_connect_timeout=2)

    def publish(self, channel: str, event: dict) -> None:
        self._redis.publish(channel, json.dumps(event))

    def listen(self, channels: Iterable[str]) -> _RedisListener:
        pubsub = self._redis.pubsub()
        wanted = set(channels)
        pubsub.subscribe(*wanted)
        # Wait for Redis to confirm the subscriptions: an event published after `listen` returns
        # must reach this listener (the stream replays from the database only before it).
        confirmed, deadline, early = 0, time.monotonic() + 5, []
        while confirmed < len(wanted) and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            if message["type"] == "subscribe":
                confirmed += 1
            elif message["type"] == "message":
                early.append(json.loads(message["data"]))
        listener = _RedisListener(pubsub)
        listener._early = early
        return listener


class _RedisListener:
    def __init__(self, pubsub) -> None:
        self._pubsub = pubsub
        self._early: list[dict] = []

    def get(self, timeout: float) -> list[dict]:
        events, self._early = self._early, []
        message = self._pubsub.get_message(timeout=0 if events else timeout)
        while message is not None:
            if message.get("type") == "message":
                events.append(json.loads(message["data"]))
            message = self._pubsub.get_message(timeout=0)
        return events

    def close(self) -> None:
        self._pubsub.close()


@cache
def _broker_for(url: str):
    return _RedisBroker(url) if url else _MemoryBroker()


def broker():
    return _broker_for(settings.CHAT_BROKER_URL)


def publish(channel: str, event: dict) -> None:
    """Send `event` to everyone listening on `channel` now. Call it after commit."""
    broker().publish(channel, event)


def listen(channels: Iterable[str]):
    """A listener on `channels`: `.get(timeout)` returns the events since the last call."""
    return broker().listen(channels)
