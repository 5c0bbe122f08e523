"""The places a command reads: the wards (--boundaries, --attributes) and the zones (--zones)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from beatlight.settings import Settings

if TYPE_CHECKING:
    from beatlight.geo.geography import Geography

__all__ = ["geography_for", "zoning_for"]


def geography_for(
    settings: Settings,
    *,
    code_column: str | None = None,
    name_column: str | None = None,
    district_column: str | None = None,
    crs: str | None = None,
) -> Geography:
    """The wards of --boundaries (with --attributes), else the synthetic demo wards."""
    from beatlight.geo.geography import geography_from_wards, load_geography
    from beatlight.geo.synthetic import synthetic_wards

    if settings.boundaries is None:
        from beatlight.geo.attributes import load_attributes
        from beatlight.geo.boundaries import wards_from_frame

        logging.getLogger("beatlight").info("no --boundaries given: using the SYNTHETIC demo wards")
        wards = wards_from_frame(
            synthetic_wards(), metric_crs=settings.metric_crs, source="synthetic demo wards"
        )
        return geography_from_wards(
            wards,
            attributes=load_attributes(
                settings.attributes, wards, settings.target_minutes_per_week
            ),
            cell_m=settings.cell_m,
            force_name=settings.force_name,
        )
    return load_geography(
        settings.boundaries,
        attributes=settings.attributes,
        code_column=code_column,
        name_column=name_column,
        district_column=district_column,
        crs=crs,
        metric_crs=settings.metric_crs,
        cell_m=settings.cell_m,
        default_target=settings.target_minutes_per_week,
        force_name=settings.force_name,
        cache_dir=settings.geo_cache_dir if settings.geo_cache else None,
    )


def zoning_for(settings: Settings, *, history: bool = False) -> Any:
    """The zones of --zones / BEATLIGHT_ZONES with their configuration
    (``streams.batch.Zoning``), or None when there is no zones file."""
    if settings.zones is None:
        return None
    from beatlight.configs import zone_config
    from beatlight.geo.zones import load_zones
    from beatlight.streams.batch import Zoning
    from beatlight.streams.schedule import parse_schedule

    zones = load_zones(settings.zones, parse_schedule=parse_schedule,
                       metric_crs=settings.metric_crs)  # fmt: skip
    return Zoning(zones, zone_config(settings), history=history)
