"""``/docs`` and ``/redoc``: the API's documentation pages, served offline under a CSP.

FastAPI's own pages load Swagger UI and ReDoc from a CDN with no integrity check and
run an inline script, on the origin where the maps keep a key (issue 19). These pages
load both from the installed ``fastapi-offline`` package (Swagger UI 5, ReDoc 2,
served at ``/static/docs-ui``) and start Swagger UI from a script of our own, so the
CSP allows scripts from this origin only, and the pages work without the internet.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "mount_docs_assets", "router"]

_UI = "/static/docs-ui"  # fastapi-offline's copies of Swagger UI and ReDoc
_OWN = "/static/docs"  # the script that starts Swagger UI

#: Scripts from this origin only; both UIs set inline styles, ReDoc searches in a worker
#: it makes from a blob; nothing may frame the pages.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def swagger(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``: try the routes with a key (Authorize)."""
    root = request.scope.get("root_path", "")
    return _page(
        f"{request.app.title} API",
        f'<link rel="stylesheet" href="{root}{_UI}/swagger-ui.css">',
        f'<div id="swagger-ui" data-openapi="{escape(root + request.app.openapi_url)}"></div>\n'
        f'<script src="{root}{_UI}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{root}{_OWN}/swagger.js"></script>',
        root,
    )


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``: the API's reference on one page."""
    root = request.scope.get("root_path", "")
    return _page(
        f"{request.app.title} API reference",
        "",
        f'<redoc spec-url="{escape(root + request.app.openapi_url)}"></redoc>\n'
        f'<script src="{root}{_UI}/redoc.standalone.js"></script>',
        root,
    )


def mount_docs_assets(app: FastAPI) -> None:
    """Serve Swagger UI and ReDoc from ``fastapi-offline``, and our start-up script."""
    import fastapi_offline

    app.mount(_UI, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="static-docs-ui")  # fmt: skip
    app.mount(_OWN, StaticFiles(directory=Path(__file__).parents[1] / "static"),
              name="static-docs")  # fmt: skip


def _page(title: str, head: str, body: str, root: str) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" type="image/png" href="{root}{_UI}/favicon.png">\n{head}\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(html, headers={
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    })  # fmt: skip
