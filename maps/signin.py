"""The sign-in page of the maps that need a key: plain HTML, no figures, no Leaflet.

A browser opening ``/maps/live`` sends no key, so the API answers with this page;
its script (``static/maps/signin.js``) takes the key from a form or from the
address's fragment (``#key=…``, never sent to a server), keeps it in the tab's
sessionStorage and fetches the map page with it as ``X-API-Key``.
"""

from __future__ import annotations

from html import escape

from beatlight.maps.assets import STATIC_PREFIX

__all__ = ["signin_page"]


def signin_page(title: str, roles: str, *, static: str = STATIC_PREFIX) -> str:
    """The page asking for a key with one of ``roles`` (words, e.g. "inspector") to see
    the map called ``title``."""
    static = escape(static.rstrip("/"), quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Beatlight: {escape(title)}</title>
<link rel="stylesheet" href="{static}/maps/beatlight.css">
<script src="{static}/maps/signin.js" defer></script>
</head>
<body class="beatlight-signin">
<main>
<h1>{escape(title)}</h1>
<p>This map needs a Beatlight API key with the role <strong>{escape(roles)}</strong>.
Paste it here: it is kept in this browser tab only and sent to this server with each
request, never in an address.</p>
<form id="beatlight-signin" autocomplete="off">
<label for="beatlight-key">API key</label>
<input id="beatlight-key" name="key" type="password" required spellcheck="false"
 autocomplete="off" placeholder="bl_…">
<button type="submit">Open the map</button>
</form>
<p id="beatlight-signin-message" role="alert"></p>
</main>
</body>
</html>
"""
