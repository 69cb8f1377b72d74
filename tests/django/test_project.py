"""The test project itself is a working Django project: migrate ran, its tasks register
with djhuey, its view enqueues and answers, a django.tasks task goes through HueyBackend."""

from __future__ import annotations

import json


def test_the_project_migrates_and_registers_its_djhuey_tasks(djsite):
    proc = djsite.django(
        "import json\nfrom huey.contrib.djhuey import HUEY\n"
        "from shop.models import Order\n"
        "print(json.dumps([type(HUEY).__name__, sorted(HUEY._registry._registry),"
        " Order.objects.count()]))\n"
    )
    assert proc.returncode == 0, proc.stderr
    kind, names, orders = json.loads(proc.stdout)
    assert kind == {"sqlite": "SqliteHuey", "redis": "RedisHuey"}[djsite.kind]
    assert "shop.tasks.send_email" in names
    assert "huey.contrib.djhuey.tasks_backend.djtasks.run" in names
    assert orders == 0


def test_the_view_enqueues_send_email_and_answers(djsite):
    proc = djsite.django(
        "from django.test import Client\nfrom huey.contrib.djhuey import HUEY\n"
        "r = Client().get('/signup/7/')\n"
        "print(r.status_code, r.json()['task'] in [t.id for t in HUEY.pending()])\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["200", "True"]
