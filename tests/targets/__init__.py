"""Huey instances for fault tests, each on the file named by ``HUEY_DESK_DB``."""
