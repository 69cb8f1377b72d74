"""The one exception type whose message is meant for the user."""


class UserError(Exception):
    """A mistake the user can fix; its message is one plain sentence, shown as is."""

    exit_code = 2


class QueueBusyError(UserError):
    """The queue database stayed locked by another process past the busy timeout."""

    exit_code = 1
