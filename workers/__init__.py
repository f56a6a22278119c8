"""Celery workers: the app, the tasks, and the per-process async runtime."""
