"""The API under load for ``bench/api_load.py``: the real app plus a trivial route, on uvicorn.

    python bench/_api_server.py DATABASE_URL BOUNDARIES PORT

Serves ``api.app.create_app`` over the store at DATABASE_URL with the settings'
defaults except the rate limit (off), as ``beatlight api`` does: one uvicorn
process, no access log. One extra route, ``GET /bench/trivial`` answering
``{"ok": true}`` with no key, is the baseline: it goes through the same server,
event loop and middleware as the real routes, and does nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere


def main(argv: list[str]) -> None:
    database_url, boundaries, port = argv

    import uvicorn

    from beatlight.api.app import create_app
    from beatlight.api.db import create_engine_for
    from beatlight.api.server import server_options
    from beatlight.geo.geography import load_geography
    from beatlight.settings import Settings

    settings = Settings(database_url=database_url, boundaries=Path(boundaries),
                        rate_limit_per_minute=0)  # fmt: skip
    geography = load_geography(
        boundaries,
        metric_crs=settings.metric_crs,
        cell_m=settings.cell_m,
        default_target=settings.target_minutes_per_week,
        force_name=settings.force_name,
    )
    engine = create_engine_for(settings.store_url())
    app = create_app(settings, engine, geography)

    @app.get("/bench/trivial", include_in_schema=False)
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    try:
        uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning",
                    access_log=False, server_header=False,
                    **server_options(settings.max_header_bytes,
                                     settings.header_timeout_seconds))  # fmt: skip
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
