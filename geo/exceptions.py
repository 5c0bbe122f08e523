"""Errors of the geography layer."""

from beatlight.errors import BeatlightError


class BoundaryError(BeatlightError):
    """A boundary or attributes file that cannot be used as it is."""


__all__ = ["BoundaryError"]
