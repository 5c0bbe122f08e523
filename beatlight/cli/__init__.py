"""The ``beatlight`` command line: a thin shell over the domain packages.

Every command is registered here, in the order ``beatlight --help`` lists them, with
the optional extras it needs (:mod:`beatlight.cli.extras`). The commands live one
group per module; what they share (options, errors, settings, geography) is in
:mod:`beatlight.cli.options`.
"""

from __future__ import annotations

import typer

from beatlight.cli import api, audit, demo, kafka, keys, report, returns, simulate, stream
from beatlight.cli.options import needs

__all__ = ["app"]

app = typer.Typer(
    name="beatlight",
    help="Beatlight: is visible neighbourhood policing being maintained, ward by ward?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The base install. `simulate --kafka` and `report --format html` name the extra they
# need if it is missing when they come to it.
app.command()(report.report)
app.command()(returns.returns)
app.command()(simulate.simulate)

app.command()(needs("stream")(kafka.broker))
app.command()(needs("stream")(kafka.replay))
app.command()(needs("stream")(stream.worker))
app.command()(needs("stream")(stream.snapshots))
app.command()(needs("api", "stream")(api.materialise))
app.command()(needs("api")(api.api))

keys_app = typer.Typer(name="keys", help=keys.KEYS_HELP, no_args_is_help=True)
keys_app.command()(needs("api")(keys.create))
keys_app.command("list")(needs("api")(keys.list_))
keys_app.command()(needs("api")(keys.revoke))
app.add_typer(keys_app)

app.command()(needs("stream", "api")(demo.demo))
app.command()(needs("api")(audit.audit))
