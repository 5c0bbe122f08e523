"""Fuzzing: the event parser and validator, the stream lane, and the API's parameters.

Bounded and seeded by default, so CI runs the same examples every time, in well under
a minute. ``BEATLIGHT_FUZZ=long`` draws twenty times as many fresh random examples
(about half an hour on two cores) for a hunt on a developer's machine::

    BEATLIGHT_FUZZ=long .venv/bin/python -m pytest tests/fuzz

A failure prints the seed (``--hypothesis-seed``) and a ``@reproduce_failure`` blob.
"""
