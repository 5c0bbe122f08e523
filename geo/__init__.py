"""The geography layer: ward boundaries, matching pings to wards, and coverage grid cells.

Load wards with :func:`load_wards` (any common boundary file), match pings with
:class:`WardIndex` (SPEC rule 1), list each ward's grid cells with
:func:`ward_cells` (rule 7) and read optional ward attributes with
:func:`load_attributes` (rule 13).
"""

from beatlight.geo.attributes import WardAttributes, load_attributes
from beatlight.geo.boundaries import Wards, load_wards, wards_from_frame
from beatlight.geo.cells import NO_CELL, Grid, decode_cells, encode_cells, ward_cells
from beatlight.geo.exceptions import BoundaryError
from beatlight.geo.index import OUTSIDE, WardIndex
from beatlight.geo.synthetic import synthetic_wards, write_synthetic

__all__ = [
    "NO_CELL",
    "OUTSIDE",
    "BoundaryError",
    "Grid",
    "WardAttributes",
    "WardIndex",
    "Wards",
    "decode_cells",
    "encode_cells",
    "load_attributes",
    "load_wards",
    "synthetic_wards",
    "ward_cells",
    "wards_from_frame",
    "write_synthetic",
]
