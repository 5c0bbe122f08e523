"""Fuzzing: the event parser and validator, the stream lane, and the API's parameters.

Bounded and seeded by default, so CI runs the same examples every time in well under a
minute. ``BEATLIGHT_FUZZ=long`` runs a hundred times as many random examples (minutes),
for a local hunt: ``BEATLIGHT_FUZZ=long .venv/bin/python -m pytest tests/fuzz``.
"""
