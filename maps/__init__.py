"""The maps: the inspectors' live map, the PCC office's coverage map and the public map.

Pure builders (:mod:`maps.builders`) turn map options and, optionally, the API's
GeoJSON into a Folium page; :mod:`maps.assets` says where the offline Leaflet and
the maps' own scripts live. The API serves both (:mod:`api.routes.maps`).
"""

from beatlight.maps.builders import MapOptions, coverage_map, live_map, public_map
from beatlight.maps.signin import signin_page

__all__ = ["MapOptions", "coverage_map", "live_map", "public_map", "signin_page"]
