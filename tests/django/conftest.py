"""The Django tests' fixtures: the test project on SQLite and on Redis."""

from tests.djsite import djsite, djsite_redis, djsite_sqlite, redis_server, redis_url  # noqa: F401
