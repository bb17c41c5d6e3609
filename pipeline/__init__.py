"""The pipeline and the CLI: the top layers of Scrutin (docs/architecture.md).

`pipeline.gate` builds, audits and publishes; `pipeline.setup` prepares the warehouse;
`pipeline.cli` and `pipeline.commands` are the `scrutin` command. Nothing below this package
imports it.
"""
