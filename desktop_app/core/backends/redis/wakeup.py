"""Wake an idle worker of a Redis priority queue when the queue's key is written.

Redis can block a client on a list (``BLMOVE``) but not on a sorted set without popping
from it (``BZPOPMIN``), and a pop that is not recorded with the take loses the message
to a kill.  So an idle priority worker does not block on the queue: it asks Redis to
tell it when the queue's key changes (client-side caching's broadcast tracking,
``CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX <queue>``, Redis 6 or later, nothing to
configure on the server and nothing asked of producers), waits for that message, and
then takes with the same atomic script as a busy worker.

Tracking is on only while the worker is idle: a busy worker would otherwise be sent a
message for every write to the queue, which Redis buffers until it reads them.
"""

from __future__ import annotations

from typing import Any

import redis

INVALIDATE_CHANNEL = "__redis__:invalidate"


class WatchUnavailable(Exception):
    """This Redis cannot tell a client about writes to a key (older than 6, or the
    ``CLIENT`` command is not allowed to this user)."""


class KeyWatch:
    """Two connections of one worker: one subscribed to the tracking messages, one that
    turns tracking of ``key`` on (``arm``) and off (``disarm``).

    ``arm``, then look at the queue, then ``wait``: a write after ``arm`` returned always
    sends a message, so nothing enqueued between the look and the wait is missed.
    Any connection error closes both connections and is raised; make a new watch then.
    """

    def __init__(self, conn: redis.Redis, key: str) -> None:
        pool = conn.connection_pool
        # RESP2: the tracking messages arrive on a subscribed connection, which redis-py
        # reads as plain replies (RESP3 would deliver them as push messages).
        kwargs = {**pool.connection_kwargs, "protocol": 2, "health_check_interval": 0}
        self.key = key
        self._sub: Any = pool.connection_class(**kwargs)
        self._ctl: Any = pool.connection_class(**kwargs)
        self._unread = 0  # replies of "tracking off" sent and not read yet
        self.armed = False
        try:
            self._sub.connect()
            self._sub.send_command("CLIENT", "ID")
            self._id = self._sub.read_response()
            self._sub.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
            self._sub.read_response()
            self._ctl.connect()
            self._tracking("ON", "REDIRECT", self._id, "BCAST", "PREFIX", key)  # or refused
            self.armed = True
        except redis.ResponseError as exc:
            self.close()
            raise WatchUnavailable(str(exc)) from exc
        except BaseException:
            self.close()
            raise

    def _tracking(self, *args: Any) -> None:
        self._ctl.send_command("CLIENT", "TRACKING", *args)
        self._ctl.read_response()

    def arm(self) -> None:
        """Be told of every write to the key from now on.  Messages already received are
        dropped: they tell of writes that the look after ``arm`` sees anyway."""
        try:
            if self.armed:
                self._drain()
                return
            while self._unread:
                self._ctl.read_response()  # tracking is off: no message comes after this
                self._unread -= 1
            self._drain()
            self._tracking("ON", "REDIRECT", self._id, "BCAST", "PREFIX", self.key)
            self.armed = True
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float) -> bool:
        """Block until the key was written since ``arm`` (True) or ``timeout`` (False)."""
        try:
            if self._sub._sock is None:
                raise redis.ConnectionError("the wake-up connection was closed")
            if not self._sub.can_read(timeout):
                return False
            self._drain()
            return True
        except BaseException:
            self.close()
            raise

    def disarm(self) -> None:
        """Stop the messages (the worker is busy).  The reply is read by the next ``arm``:
        turning tracking off costs the worker no round trip."""
        if not self.armed:
            return
        self.armed = False
        try:
            self._ctl.send_command("CLIENT", "TRACKING", "OFF")
            self._unread += 1
        except BaseException:
            self.close()
            raise

    def _drain(self) -> None:
        while self._sub.can_read(0):
            self._sub.read_response()

    def close(self) -> None:
        for connection in (self._sub, self._ctl):
            try:
                connection.disconnect()
            except Exception:  # closing a broken connection
                pass
        self.armed = False
