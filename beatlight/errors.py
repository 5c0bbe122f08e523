"""The one exception type users see: a message that says what was wrong and what to do."""


class BeatlightError(Exception):
    """A failure a user caused and can fix; the CLI prints its message on one line."""


__all__ = ["BeatlightError"]
