"""Reading a boundary file into a GeoDataFrame, whatever its format: the I/O edge of geo/.

GeoJSON, GeoPackage, Shapefile, a zipped Shapefile (``.zip``) and gzipped GeoJSON
(``.geojson.gz``) are read through pyogrio; GDAL virtual paths (``/vsizip/…``) are
passed through as they are.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from beatlight.geo.exceptions import BoundaryError

log = logging.getLogger("beatlight.geo")

_DATA_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json")


def read_boundary_file(path: str | Path) -> gpd.GeoDataFrame:
    """Read the polygon layer of a boundary file, or say in one line why it cannot be read."""
    source = gdal_path(path)
    try:
        layer = _polygon_layer(source, path)
        frame = pyogrio.read_dataframe(source, layer=layer)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise BoundaryError(f"cannot read boundary file {path}: {_reason(exc)}") from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise BoundaryError(
            f"boundary file {path} has no geometry: give a file of ward polygons "
            "(GeoJSON, GeoPackage, Shapefile or zipped Shapefile)"
        )
    return frame


def gdal_path(path: str | Path) -> str:
    """The path GDAL should open for a user's path: zips and gzips become /vsizip/, /vsigzip/."""
    text = str(path)
    if text.startswith("/vsi"):
        return text
    file = Path(path)
    if not file.exists():
        raise BoundaryError(f"boundary file not found: {file}")
    name = file.name.lower()
    if name.endswith(".zip"):
        return _zip_member(file)
    if name.endswith(".gz"):
        return f"/vsigzip/{file.resolve()}"
    return text


def _zip_member(file: Path) -> str:
    """The /vsizip/ path of the one boundary file inside a zip, wherever it sits in the archive."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise BoundaryError(f"cannot read boundary file {file}: not a valid zip ({exc})") from exc
    members = [
        name
        for name in names
        if name.lower().endswith(_DATA_SUFFIXES) and not name.startswith("__MACOSX/")
    ]
    if len(members) == 1:
        return f"/vsizip/{file.resolve()}/{members[0]}"
    if not members:
        raise BoundaryError(
            f"boundary file {file} is a zip with no .shp, .gpkg or .geojson inside: "
            "zip a Shapefile (.shp with its .shx, .dbf and .prj)"
        )
    shown = ", ".join(members[:5])
    raise BoundaryError(
        f"boundary file {file} is a zip with {len(members)} boundary files ({shown}): "
        f"extract the one you want, or give it as /vsizip/{file.resolve()}/<member>"
    )


def _polygon_layer(source: str, path: str | Path) -> int:
    """The index of the layer to read: the only spatial layer, or the first one (with a warning)."""
    layers = pyogrio.list_layers(source)
    spatial = [i for i, (_, geometry_type) in enumerate(layers) if geometry_type is not None]
    if not spatial:
        return 0
    if len(spatial) > 1:
        names = [str(layers[i][0]) for i in spatial]
        log.warning(
            "boundary file %s has %d spatial layers (%s); reading the first, %s",
            path,
            len(spatial),
            ", ".join(names),
            names[0],
        )
    return spatial[0]


def _reason(exc: Exception) -> str:
    """GDAL's message without its generic advice about driver prefixes."""
    message = str(exc).split("; It might help", 1)[0].strip()
    return message or type(exc).__name__
