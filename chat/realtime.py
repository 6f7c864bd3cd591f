"""Live events for chat: publish after commit, listen from a server-sent-events stream.

Two brokers with one interface, chosen by settings (`CHAT_BROKER_URL`, default `REDIS_URL`):
- in-process (nothing installed, `make run`, tests): a condition variable and a short ring of
  recent events per channel, shared by the threads of one process;
- Redis pub/sub (several processes): one subscriber connection and one reader thread per
  process, shared by every open stream of that process (`_RedisBroker`).

Events are small dicts (`{"type": "message", "id": 12, ...}`). They are hints, not the record:
a stream replays from the database every message after the cursor its client sends, so an event
lost in transit (a restart, a dropped connection) costs nothing but a little delay until the
browser reconnects. Typing and "seen" are the only things carried by events alone.
"""
from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from functools import cache

from django.conf import settings

log = logging.getLogger(__name__)


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
    """Redis pub/sub with one subscriber connection per process (per broker), however many streams
    are open: a reader thread owns the connection's reading side and hands each event to the
    listeners of its channel; listeners subscribe a channel on its first listener and unsubscribe
    it after its last. Publishing uses the ordinary connection pool."""

    CLIENT_NAME = "shop-chat-subscriber"

    def __init__(self, url: str, *, client_name: str = CLIENT_NAME) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2)
        # The subscriber's own client, named, so `CLIENT LIST` shows one per process.
        self._subscriber = redis.Redis.from_url(url, socket_connect_timeout=2, client_name=client_name)
        self._lock = threading.Lock()  # the tables below, and sending subscribe commands in order
        self._listeners: dict[str, set[_RedisListener]] = {}
        # Per channel: subscribe commands sent, and confirmations read back. Redis answers in
        # order, so a listener is subscribed once the confirmations reach its own command's count.
        self._sent: dict[str, int] = {}
        self._confirmed: dict[str, int] = {}
        self._confirm = threading.Condition(self._lock)
        self._pubsub = None
        self._reader: threading.Thread | None = None
        self._pid = 0

    def publish(self, channel: str, event: dict) -> None:
        self._redis.publish(channel, json.dumps(event))

    def _start(self) -> None:
        """Caller holds `_lock`. Once per process (a forked worker starts its own reader)."""
        import os

        if self._reader is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._pubsub = self._subscriber.pubsub()
        self._sent, self._confirmed = {}, {}
        self._reader = threading.Thread(target=self._read, name="chat-redis-subscriber", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pubsub = self._pubsub
        while True:
            try:
                message = pubsub.get_message(timeout=1.0)
            except Exception:  # the connection dropped: redis-py reconnects and resubscribes
                log.warning("chat subscriber: Redis connection lost, reconnecting", exc_info=True)
                time.sleep(1)
                continue
            if message is None:
                continue
            kind = message.get("type")
            channel = message.get("channel")
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if kind == "subscribe":
                with self._confirm:
                    self._confirmed[channel] = self._confirmed.get(channel, 0) + 1
                    self._confirm.notify_all()
            elif kind == "message":
                try:
                    event = json.loads(message["data"])
                except ValueError:
                    continue
                with self._lock:
                    listeners = list(self._listeners.get(channel, ()))
                for listener in listeners:
                    listener._queue.put(event)

    def listen(self, channels: Iterable[str]) -> _RedisListener:
        wanted = sorted(set(channels))
        listener = _RedisListener(self, wanted)
        waits: list[tuple[str, int]] = []
        with self._lock:
            self._start()
            for channel in wanted:
                self._listeners.setdefault(channel, set()).add(listener)
                # Subscribe again even if another listener did: this listener must only return
                # once Redis has confirmed a subscription sent after it registered.
                self._sent[channel] = self._sent.get(channel, 0) + 1
                waits.append((channel, self._sent[channel]))
            try:
                self._pubsub.subscribe(*wanted)
            except Exception:
                # Redis is unreachable: undo, so later listeners do not wait for a confirmation
                # that will never come, and let the stream fail.
                for channel in wanted:
                    self._sent[channel] -= 1
                    members = self._listeners.get(channel)
                    if members is not None:
                        members.discard(listener)
                        if not members:
                            del self._listeners[channel]
                raise
            deadline = time.monotonic() + 5
            # An event published after `listen` returns must reach this listener (the stream
            # replays from the database only before it).
            self._confirm.wait_for(
                lambda: all(self._confirmed.get(ch, 0) >= n for ch, n in waits) or time.monotonic() > deadline,
                timeout=5)
        return listener

    def _forget(self, listener: _RedisListener) -> None:
        with self._lock:
            idle = []
            for channel in listener._channels:
                members = self._listeners.get(channel)
                if members is None:
                    continue
                members.discard(listener)
                if not members:
                    del self._listeners[channel]
                    idle.append(channel)
                    # Forget the counts once every confirmation is in, so a long-lived process does
                    # not keep one per conversation it ever streamed.
                    if self._sent.get(channel, 0) <= self._confirmed.get(channel, 0):
                        self._sent.pop(channel, None)
                        self._confirmed.pop(channel, None)
            if idle and self._pubsub is not None:
                try:
                    self._pubsub.unsubscribe(*idle)
                except Exception:  # the reader's reconnection resubscribes only what is still wanted
                    log.warning("chat subscriber: could not unsubscribe", exc_info=True)

    def connection_count(self) -> int:
        """Subscriber connections this broker holds in this process (0 or 1)."""
        return int(self._reader is not None and self._reader.is_alive())


class _RedisListener:
    def __init__(self, broker: _RedisBroker, channels: list[str]) -> None:
        self._broker, self._channels = broker, channels
        self._queue: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._closed = False

    def get(self, timeout: float) -> list[dict]:
        """The events since the last call, waiting up to `timeout` seconds for the first."""
        events = []
        try:
            events.append(self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait())
        except queue.Empty:
            return []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._broker._forget(self)


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
