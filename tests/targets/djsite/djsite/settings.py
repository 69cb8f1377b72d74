"""Settings of the test project; ``DJSITE_HUEY`` picks the Huey storage and the faults.

``DJSITE_HUEY``: ``sqlite`` (default), ``redis``, ``priority-redis`` (with
``DJSITE_REDIS_URL``), ``instance`` (a SqliteHuey object rather than a dict), ``sql``
(huey.contrib.sql_huey), ``queues`` (django-huey queues too), or one of the faults the tests
check: ``none`` (no HUEY setting), ``no-djhuey`` (djhuey not in INSTALLED_APPS),
``immediate`` (DEBUG and no ``immediate`` key), ``bad-db`` (a database file that cannot
be opened), ``broken`` (these settings raise).  ``DJSITE_DATA``: where files go;
``DJSITE_DESK_APP``: add Huey Desk's app, for a stock ``run_huey``.
"""

import importlib.util
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DJSITE_DATA", BASE_DIR))
KIND = os.environ.get("DJSITE_HUEY", "sqlite")

if KIND == "broken":
    raise RuntimeError("DJSITE_HUEY=broken: these settings fail on purpose")

SECRET_KEY = "only-for-the-tests"
DEBUG = True  # so that djhuey's default, immediate = DEBUG, must be overridden
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "djsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = ["django.contrib.contenttypes", "huey.contrib.djhuey", "shop"]
if KIND == "no-djhuey":
    INSTALLED_APPS.remove("huey.contrib.djhuey")
if KIND == "queues":  # django-huey: several queues, each with its consumer options
    INSTALLED_APPS.append("django_huey")
    DJANGO_HUEY = {
        "default": "mail",
        "queues": {
            name: {
                "huey_class": "huey.SqliteHuey",
                "filename": str(DATA / f"{name}.db"),
                "immediate": False,
                "consumer": {"workers": workers},
            }
            for name, workers in (("mail", 1), ("reports", 3))
        },
    }
if os.environ.get("DJSITE_DESK_APP"):  # run_huey reporting to Huey Desk
    INSTALLED_APPS.append("desktop_app.django_app")
if importlib.util.find_spec("django.tasks") is None:  # Django < 6: the backport
    INSTALLED_APPS.append("django_tasks")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA / ("missing-folder/db.sqlite3" if KIND == "bad-db" else "db.sqlite3")),
    }
}

# django.tasks run on Huey through its own backend: each is the huey task djtasks.run.
TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}

CONSUMER = {"workers": 2, "worker_type": "thread", "scheduler_interval": 1}
REDIS_URL = os.environ.get("DJSITE_REDIS_URL", "redis://localhost:6379/0")
if KIND in ("sqlite", "bad-db", "no-djhuey", "queues"):
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "djsite",
        "filename": str(DATA / "huey.db"),
        "immediate": False,
        "consumer": CONSUMER,
    }
elif KIND in ("redis", "priority-redis"):
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey" if KIND == "priority-redis" else "huey.RedisHuey",
        "name": "djsite",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": CONSUMER,
    }
elif KIND == "instance":
    from huey import SqliteHuey

    HUEY = SqliteHuey("djsite", filename=str(DATA / "huey.db"))
elif KIND == "sql":
    HUEY = {
        "huey_class": "huey.contrib.sql_huey.SqlHuey",
        "name": "djsite",
        "database": f"sqlite:///{DATA / 'sql-huey.db'}",
        "immediate": False,
    }
elif KIND == "immediate":
    HUEY = {"huey_class": "huey.SqliteHuey", "filename": str(DATA / "huey.db")}
