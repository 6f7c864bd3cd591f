"""Scheduled promotion work. Thin: each task calls one function."""
from celery import shared_task

from .labels import bump_due_labels


@shared_task
def bump_due_labels_task() -> int:
    return bump_due_labels()
