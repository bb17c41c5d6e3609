"""Write the campaign's territory into `ops.campaign_territory`, where dbt reads it.

Why a warehouse table rather than a dbt var holding the codes: the territory a mart was built
for stays inspectable in the warehouse next to the gate runs (which file, when, which codes), a
territory of hundreds of communes does not travel on dbt's command line, and the models join it
like any relation. The campaign file stays the only place a user writes it: this module copies
it, keyed by `campaign_id`, before each dbt build (pipeline.dbt_runner.build), so the build and its
`campaign_id` var always agree with the file it was run with.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scrutin.campaign import Campaign

if TYPE_CHECKING:
    import psycopg

TERRITORY_TABLE = "ops.campaign_territory"


def write_campaign_territory(
    conn: psycopg.Connection, campaign: Campaign, config_path: Path
) -> int:
    """Replace the campaign's rows with its territory (none when it declares none), in one
    transaction; returns the number of codes written."""
    rows = campaign.territory.rows() if campaign.territory is not None else []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            f"delete from {TERRITORY_TABLE} where campaign_id = %s", (campaign.campaign_id,)
        )
        cur.executemany(
            f"insert into {TERRITORY_TABLE} (campaign_id, kind, code, config_path) "
            "values (%s, %s, %s, %s)",
            [(campaign.campaign_id, kind, code, str(config_path)) for kind, code in rows],
        )
    return len(rows)
