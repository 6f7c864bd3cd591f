"""Chat delivery under load: N open streams, M messages a second, every message delivered once.

A script, not a test. It serves the store with gunicorn's threaded workers (the production shape
for chat, docs/operations.md) on its own database, with Redis carrying live events between the
workers, and:
  1. creates --connections conversations, each with a shopper's signed visitor cookie;
  2. opens one server-sent-events stream per conversation (plain asyncio sockets: what a browser's
     EventSource does, without a browser);
  3. posts --rate staff replies a second for --seconds, spread over the conversations, from this
     process through `chat.services.add_agent_message` (stored, committed, published to Redis);
  4. checks every reply reached its conversation's stream exactly once (none lost, none twice)
     and prints the delivery time from commit to the stream's reader: median, p95, p99, max.
Streams end every CHAT_STREAM_SECONDS and reconnect with their cursor, as browsers do, so the run
crosses reconnections.

    .venv/bin/python bench/chat.py --redis-url redis://127.0.0.1:6379/14
    .venv/bin/python bench/chat.py --redis-url redis://127.0.0.1:6379/14 --connections 200 --rate 50 --seconds 20

Target (issue 12): 200 connections, 50 messages a second, p99 under 300 ms on this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import free_port, start_gunicorn, stop  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True, help="Redis for live events between gunicorn's workers")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="replies a second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (gthread)")
    parser.add_argument("--threads", type=int, default=160, help="threads per worker: open streams each hold one")
    parser.add_argument("--stream-seconds", type=int, default=25, help="CHAT_STREAM_SECONDS for the server")
    return parser.parse_args()


def environment(args: argparse.Namespace, database: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": args.redis_url, "CHAT_BROKER_URL": args.redis_url,
        "DJANGO_DEBUG": "false", "SECRET_KEY": "bench-chat-not-secret-" + "x" * 40, "SITE_URL": "http://127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SILENCED_SYSTEM_CHECKS": "*",
        "CHAT_STREAM_SECONDS": str(args.stream_seconds), "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_SETTINGS_MODULE": "shop.settings",
    })
    return env


def prepare(count: int) -> list[tuple[str, str, int]]:
    """Conversations with their shopper's cookie: (public id, signed cookie value, pk)."""
    from bench import setup_django

    setup_django()
    from django.core.management import call_command
    from django.core.signing import get_cookie_signer

    from chat import identity
    from chat.models import Conversation

    call_command("migrate", verbosity=0)
    signer = get_cookie_signer(salt=identity.COOKIE + identity.COOKIE_SALT)
    rows = []
    for n in range(count):
        key = f"bench-visitor-{n:05d}"
        conversation = Conversation.objects.create(visitor_key=key, bot_active=False, email="")
        rows.append((conversation.public_id, signer.sign(key), conversation.pk))
    from django.db import connection

    connection.close()
    return rows


class Stream:
    """One shopper's EventSource: reads events, reconnects with its last id when the server ends it."""

    def __init__(self, port: int, public_id: str, cookie: str, received: dict) -> None:
        self.port, self.public_id, self.cookie = port, public_id, cookie
        self.received, self.last_id, self.connected = received, 0, asyncio.Event()

    async def run(self, stop_at: float) -> None:
        while time.monotonic() < stop_at:
            try:
                await self._once(stop_at)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                await asyncio.sleep(0.2)

    async def _once(self, stop_at: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        request = (
            f"GET /chat/{self.public_id}/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Cookie: chat_visitor={self.cookie}\r\nLast-Event-ID: {self.last_id}\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise ConnectionError(f"stream answered {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers
        self.connected.set()
        block: list[str] = []
        try:
            while time.monotonic() < stop_at:
                line = await asyncio.wait_for(reader.readline(), timeout=max(0.1, stop_at - time.monotonic()))
                if not line:
                    return  # the server ended the stream: reconnect
                text = line.decode().rstrip("\r\n")
                if text:
                    block.append(text)
                    continue
                self._event(block)
                block = []
        except asyncio.TimeoutError:
            return
        finally:
            writer.close()

    def _event(self, block: list[str]) -> None:
        arrived = time.time()
        fields = dict(line.split(": ", 1) for line in block if ": " in line and not line.startswith(":"))
        if fields.get("event") != "message" or "data" not in fields:
            return
        data = json.loads(fields["data"])
        self.last_id = max(self.last_id, data["id"])
        sent = float(data["body"].split("t=", 1)[1])
        self.received.setdefault(data["id"], []).append(arrived - sent)


def send_replies(rows: list[tuple[str, str, int]], rate: float, seconds: float) -> list[int]:
    """In a thread: `rate` staff replies a second, round robin over the conversations."""
    from chat import services
    from chat.models import Conversation

    conversations = list(Conversation.objects.filter(pk__in=[pk for _p, _c, pk in rows]).order_by("pk"))
    sent, interval = [], 1 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        due = start + n * interval
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        conversation = conversations[n % len(conversations)]
        message = services.add_agent_message(conversation=conversation, author=None, body=f"t={time.time():.6f}")
        sent.append(message.pk)
        n += 1
    from django.db import connection

    connection.close()
    return sent


async def measure(args: argparse.Namespace, port: int, rows) -> tuple[list[int], dict]:
    received: dict[int, list[float]] = {}
    streams = [Stream(port, public_id, cookie, received) for public_id, cookie, _pk in rows]
    stop_at = time.monotonic() + args.seconds + 30
    tasks = [asyncio.create_task(stream.run(stop_at)) for stream in streams]
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in streams)), timeout=60)
    print(f"{len(streams)} streams open; sending {args.rate:g} replies a second for {args.seconds:g} s")
    sent = await asyncio.to_thread(send_replies, rows, args.rate, args.seconds)
    # Let the last ones arrive (a stream may be between reconnections), then stop.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(pk in received for pk in sent):
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sent, received


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as folder:
        database = str(Path(folder) / "chat.sqlite3")
        env = environment(args, database)
        os.environ.update(env)
        rows = prepare(args.connections)
        port = free_port()
        server = start_gunicorn(env, port=port, workers=args.workers, worker_class="gthread", threads=args.threads)
        try:
            import urllib.request

            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("gunicorn did not start") from None
                    time.sleep(0.2)
            sent, received = asyncio.run(measure(args, port, rows))
        finally:
            stop(server)
    lost = [pk for pk in sent if pk not in received]
    twice = [pk for pk, times in received.items() if len(times) > 1]
    delays = sorted(times[0] * 1000 for times in received.values())
    print(f"sent {len(sent)}, delivered {len(received)}, lost {len(lost)}, delivered twice {len(twice)}")
    if delays:
        p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]  # noqa: E731
        print(f"delivery ms: median {statistics.median(delays):.1f}, p95 {p(0.95):.1f}, p99 {p(0.99):.1f}, "
              f"max {delays[-1]:.1f} (target p99 < 300)")
    if lost or twice:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
