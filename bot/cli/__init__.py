"""The command line (typer): `app.py` is the root command, one module per command group.

`_common.py` holds what every group shares (settings, dataset, country and clock
helpers, the one way to fail). Imports of the service are made inside the commands, so
`untoc-watch --help` starts without loading SQLAlchemy, PTB or Starlette; this is the one
package where function-level imports are the rule. Only this package raises typer's
exceptions.
"""
