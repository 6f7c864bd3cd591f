"""Work a web request hands off: a thread in the same process runs it after the response.

Why it exists: without a broker (the default, `make run`), Celery's eager mode ran each task at the
point it was enqueued, i.e. inside the shopper's request after commit, so a mail server that did
not answer held "Place order" and "Pay" for the whole SMTP timeout. With a broker, publishing in
the request waits on the broker instead. So a web process never does either inside a request:

- `shop.celery.Task.apply_async` hands each task enqueued in a web process to `submit()`. The
  thread then runs it (no broker: eager mode) or publishes it (broker; publishes are bounded by the
  broker timeouts in settings). The request returns as soon as its own work is done, and nothing
  the job does (an exception, a timeout) can reach its response.
- Without a broker nothing else runs the beat schedule, so the same thread runs
  `CELERY_BEAT_SCHEDULE` at its times (`Runner.tick`): emails due for a retry are sent, unpaid
  orders expire, the nightly jobs run.

A web process is one that has served a request (`request_started`): runserver's serving process, a
gunicorn worker (after the fork, so a preloading master never owns a thread), uvicorn. Management
commands and Celery workers never start it, and run or publish tasks where they are enqueued, as
before. Setting BACKGROUND_THREAD off (the test suite does) does the same everywhere.

What this thread holds is in memory: if the process is killed (gunicorn's timeout, a crash) the
queued jobs are lost. Emails are safe, since their outbox row is written in the change's own
transaction and the retry loop sends whatever is due; other jobs are recomputed nightly (customer
figures) or redone on demand (image renditions). On a normal exit the queue is drained first, for
at most DRAIN_SECONDS. Why a thread and not Django's `request_finished`: see docs/decisions.md.
"""
from __future__ import annotations

import atexit
import copy
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_started
from django.db import close_old_connections, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

# Jobs waiting at most; past that a job is dropped with an error in the log (its outbox row, if it
# is an email, is still sent by the retry loop) rather than letting memory grow during an outage.
QUEUE_SIZE = 10_000
# How long a normal exit waits for the queue to drain.
DRAIN_SECONDS = 10.0
# The thread looks at the schedule at least this often (seconds), whatever the entries say.
MAX_SLEEP = 60.0
# Every runner's thread is named so (the test suite looks for one left running after a test).
THREAD_NAME = "shop-background"

_STOP = object()


@dataclass
class PeriodicJob:
    """One CELERY_BEAT_SCHEDULE entry: a task run every interval or at crontab times."""

    name: str
    task: str
    schedule: object  # celery.schedules.schedule or crontab
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    last_run_at: datetime | None = None

    def seconds_to_next(self, now: datetime) -> tuple[bool, float]:
        """Whether the job is due at `now`, and the seconds until it should be looked at again."""
        # Celery's schedules ask `nowfun` for the time: ours is the runner's clock, so a test can
        # drive them with any `now`.
        self.schedule.nowfun = lambda: now
        due, next_check = self.schedule.is_due(self.last_run_at)
        return due, next_check


class Runner:
    """A queue of jobs and the periodic schedule, worked through by one daemon thread."""

    def __init__(self, *, beat_schedule: dict | None = None, clock: Callable[[], datetime] = timezone.now) -> None:
        from celery.schedules import maybe_schedule

        from shop.celery import app

        if beat_schedule:
            # As a worker does at start: import every app's tasks module, so beat's names resolve.
            app.loader.import_default_modules()
        self.clock = clock
        self.pid = os.getpid()
        self.jobs: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        started = clock()
        # As beat does: an interval job first runs one interval after start, a crontab job at its time.
        self.periodic = [
            # A copy: its clock is set per runner (see PeriodicJob), never on the settings' object.
            PeriodicJob(name=name, task=entry["task"], schedule=copy.copy(maybe_schedule(entry["schedule"], app=app)),
                        args=tuple(entry.get("args", ())), kwargs=dict(entry.get("kwargs", {})), last_run_at=started)
            for name, entry in (beat_schedule or {}).items()
        ]
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)

    # --- Jobs -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, job: Callable[[], object], *, name: str) -> bool:
        """Queue `job` for the thread; False (logged) when the queue is full."""
        try:
            self.jobs.put_nowait((name, job))
        except queue.Full:
            logger.error("Background queue full (%s jobs): %s dropped", QUEUE_SIZE, name)
            return False
        return True

    def is_current_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every queued job has run (tests wait on it); False on timeout."""
        done = threading.Event()

        def join() -> None:
            self.jobs.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout)

    def stop(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Run what is queued, then end the thread; False if it had not finished within `timeout`."""
        if not self._thread.is_alive():
            return True
        try:
            self.jobs.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- The thread ---------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                item = self.jobs.get(timeout=self._seconds_to_next_tick())
            except queue.Empty:
                item = None
            # As around a request: drop a connection that is broken or past CONN_MAX_AGE.
            close_old_connections()
            try:
                if item is _STOP:
                    connections.close_all()  # this thread's own
                    return
                if item is not None:
                    self._run(*item)
                self.tick()
            except Exception:  # never let the thread die: it is the process's only one
                logger.exception("Background thread: unexpected error")
            finally:
                close_old_connections()
                if item is not None:
                    self.jobs.task_done()

    def _run(self, name: str, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception:
            logger.exception("Background job %s failed", name)

    def _seconds_to_next_tick(self) -> float | None:
        if not self.periodic:
            return None
        now = self.clock()
        return max(0.0, min([MAX_SLEEP] + [job.seconds_to_next(now)[1] for job in self.periodic]))

    # --- The schedule -------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[str]:
        """Run, here and now, every periodic job that is due at `now`; return the names of those run.

        Several processes may each run this thread (gunicorn -w 4 without a broker): each job
        takes a lease in the cache for its slot of time first, so with a shared cache (CACHE_URL,
        Redis) one process runs it per interval. Either way the jobs are safe to run twice: the
        outbox claims each email under a row lock, and expiring an order locks it.
        """
        from shop.celery import app

        now = now or self.clock()
        ran = []
        for job in self.periodic:
            due, _ = job.seconds_to_next(now)
            if not due:
                continue
            job.last_run_at = now
            _, until_next = job.seconds_to_next(now)
            if not _take_lease(job.name, now=now, seconds=until_next):
                continue
            task = app.tasks[job.task]
            self._run(job.name, lambda task=task, job=job: task.apply(args=job.args, kwargs=job.kwargs, throw=True))
            ran.append(job.name)
        return ran


def _take_lease(name: str, *, now: datetime, seconds: float) -> bool:
    """True if this process may run periodic job `name` now: no other process has run it in this
    slot of time (`seconds`, the job's interval, long; a slot is named by its number)."""
    slot = int(now.timestamp() // max(1.0, seconds))
    try:
        return cache.add(f"shop:background:{name}:{slot}", os.getpid(), timeout=max(1, int(seconds)))
    except Exception:  # the cache is down: run it, it is idempotent
        logger.warning("Cache unavailable for the lease of %s; running it anyway", name, exc_info=True)
        return True


# --- The process's runner ---------------------------------------------------------------------------

_lock = threading.Lock()
_runner: Runner | None = None
_serves_web = False


def enabled() -> bool:
    return bool(getattr(settings, "BACKGROUND_THREAD", False))


def current() -> Runner | None:
    """This process's runner, started on first use; None if BACKGROUND_THREAD is off.

    Owned by the process that made it: a forked child (gunicorn --preload) makes its own.
    """
    global _runner
    if not enabled():
        return None
    with _lock:
        if _runner is None or _runner.pid != os.getpid():
            # Without a broker nothing else runs the beat schedule; with one, beat does.
            schedule = settings.CELERY_BEAT_SCHEDULE if settings.CELERY_TASK_ALWAYS_EAGER else {}
            _runner = Runner(beat_schedule=schedule)
            _runner.start()
        return _runner


def takes_tasks() -> bool:
    """Whether a task enqueued now goes to the background thread instead of running or being
    published here: in a web process, with BACKGROUND_THREAD on, and not from the thread itself
    (a job or periodic task that enqueues another runs it in line, in that same thread)."""
    if not (_serves_web and enabled()):
        return False
    runner = _runner
    return not (runner is not None and runner.pid == os.getpid() and runner.is_current_thread())


def submit(job: Callable[[], object], *, name: str) -> None:
    """Run `job` after the response in the background thread when `takes_tasks()`, else here.

    For work that is not a Celery task (tasks go through `shop.celery.Task` by themselves). What
    `job` raises in the thread is logged, never seen by the request.
    """
    runner = current() if takes_tasks() else None
    if runner is None:
        job()
    else:
        runner.submit(job, name=name)


def shutdown(timeout: float = DRAIN_SECONDS) -> None:
    """Drain and end this process's runner (at exit; tests call it to start afresh)."""
    global _runner
    with _lock:
        runner, _runner = _runner, None
    if runner is not None and runner.pid == os.getpid() and not runner.stop(timeout):
        logger.warning("Background jobs still queued at exit were dropped after %ss", timeout)


def _on_request_started(**kwargs) -> None:
    global _serves_web
    _serves_web = True
    current()  # start the schedule with the first request, not the first task


request_started.connect(_on_request_started, dispatch_uid="shop.background")
atexit.register(shutdown)
