"""Beatlight: is visible neighbourhood policing being maintained, ward by ward?

This package is the composition root: settings and the command line. The domain
lives in the top-level packages ``geo`` (boundaries, matching, grid cells),
``streams`` (events, the presence model, producers, the stream processors),
``api`` (store and HTTP service) and ``maps`` (Folium maps).
"""

__version__ = "0.1.0"
