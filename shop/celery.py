import os

from celery import Celery
from celery import Task as CeleryTask
from celery.utils import uuid

from . import background

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")


class Task(CeleryTask):
    """Every task of the store: enqueued in a web process, it leaves the request.

    `apply_async` (and so `delay`) hands the task to the process's background thread
    (`shop.background`), which runs it after the response without a broker, or publishes it with
    one. Elsewhere (a worker, a management command, tests, BACKGROUND_THREAD off) it runs or is
    published where it is called, as Celery does. Callers get the task's id either way.
    """

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        if not background.takes_tasks():
            return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)
        task_id = task_id or uuid()
        background.current().submit(
            lambda: super(Task, self).apply_async(args, kwargs, task_id, producer, link, link_error, shadow,
                                                  **options),
            name=self.name,
        )
        return self.AsyncResult(task_id)


app = Celery("shop", task_cls=Task)
# Every CELERY_* setting in shop/settings.py configures the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
