"""The API's routers, one per resource; :mod:`api.app` gathers them under ``/api/v1``."""
