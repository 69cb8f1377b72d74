"""Huey Desk: a desktop monitor and dispatcher for Huey task queues."""

__version__ = "0.1.0"
