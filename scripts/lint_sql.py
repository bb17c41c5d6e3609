"""Lint the dbt SQL with sqlfluff's dbt templater against the configured warehouse.

The dbt templater compiles every model as dbt does, and some models query the warehouse
while compiling, so it must reach the same server as the pipeline: SCRUTIN_DATABASE_URL,
else the project's local cluster on SCRUTIN_PGPORT. dbt/profiles.yml reads the connection
from SCRUTIN_DB_* variables; this wrapper derives them exactly as pipeline.dbt_runner does
(`scrutin.config.dbt_env`) and then runs `sqlfluff lint` with the given arguments.

    python scripts/lint_sql.py dbt/models dbt/tests --processes 2
"""

from __future__ import annotations

import os
import sys

from scrutin.config import database_url, dbt_env


def main(argv: list[str]) -> int:
    from sqlfluff.cli.commands import cli  # heavy import, only when linting

    os.environ.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **dbt_env(database_url())})
    try:
        cli.main(args=["lint", *argv], prog_name="sqlfluff")
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
