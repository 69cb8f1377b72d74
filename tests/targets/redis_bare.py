"""The Redis project's Huey instance alone, no task registered: a consumer attached here
meets messages whose task it does not know (they must be kept, not dropped)."""

import os

from huey import RedisHuey

huey = RedisHuey("desk-redis", url=os.environ.get("HUEY_DESK_REDIS_URL", "redis://localhost"))
