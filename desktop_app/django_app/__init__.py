"""For projects that keep ``./manage.py run_huey``: one entry in ``INSTALLED_APPS``,
``"desktop_app.django_app"``, and run_huey's consumer reports to Huey Desk's journal.

It installs ``desktop_app.hooks`` on djhuey's Huey once Django is ready: every task
event is journalled from the consumer's workers, with heartbeats and a stop record.  The
web processes that only enqueue start nothing (the hooks start in the consumer).
Optional setting: ``HUEY_DESK_JOURNAL``, a journal file other than the one beside a
SQLite queue.  What this cannot guarantee is what any stock consumer cannot: see
``desktop_app.hooks`` and the README's Django section.
"""
