"""``python -m beatlight``: the same as the ``beatlight`` command."""

from beatlight.cli import app

app()
