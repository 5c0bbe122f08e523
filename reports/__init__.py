"""The PCC report: report documents presented as one printable, self-contained HTML page.

A presentation of the batch report's documents (SPEC "Batch report contract",
``--format html``) for the Police and Crime Commissioner's office, used by the CLI
and the API alike. Pure: documents and outlines in, HTML out; no web framework,
no broker, no database, no clock.

* :mod:`reports.trends`: the period, its days, and the wards below target for how long;
* :mod:`reports.charts`: the ward map and charts as inline SVG;
* :mod:`reports.method`: the SPEC's definitions in plain words, and attribution;
* :mod:`reports.sections`: the report's seven sections, and
  :mod:`reports.formatting`: how they write figures and times;
* :mod:`reports.html`: :func:`build_report`, the page.
"""

from beatlight.reports.html import CONTENT_SECURITY_POLICY, build_report
from beatlight.reports.method import BOUNDARY_ATTRIBUTION, SYNTHETIC_ATTRIBUTION, Method
from beatlight.reports.sections import SECTIONS
from beatlight.reports.trends import (
    MAX_PERIOD_DAYS,
    daily_boundaries,
    is_local_midnight,
    window_for,
)

__all__ = [
    "BOUNDARY_ATTRIBUTION",
    "CONTENT_SECURITY_POLICY",
    "MAX_PERIOD_DAYS",
    "SECTIONS",
    "SYNTHETIC_ATTRIBUTION",
    "Method",
    "build_report",
    "daily_boundaries",
    "is_local_midnight",
    "window_for",
]
