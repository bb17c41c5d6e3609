"""Crafted results rows shared by the plausibility tests of two tiers (docs/quality.md)."""

from __future__ import annotations

import psycopg

UNKNOWN_COMMUNE = "29999"  # no such commune in Finistère (nor anywhere)


def add_bureau_of_unknown_commune(
    conn: psycopg.Connection, election_id: str, like_bureau: str
) -> str:
    """A bureau `29999_0001` in `election_id`'s batch, a copy of `like_bureau` with its candidate
    rows (counts unchanged, so every other check still holds), as a crafted line of its file
    would land; returns its bureau id. `remove_bureau` takes it back."""
    bureau_id = f"{UNKNOWN_COMMUNE}_0001"
    conn.execute(
        "insert into raw.election_results_bureau (batch_id, election_id, source_line, "
        "code_departement, libelle_departement, code_commune, libelle_commune, code_bv, "
        "bureau_id, inscrits, votants, abstentions, exprimes, blancs, nuls) "
        "select batch_id, election_id, 9999, code_departement, libelle_departement, %s, "
        "'Nowhere', '0001', %s, inscrits, votants, abstentions, exprimes, blancs, nuls "
        "from raw.election_results_bureau where election_id = %s and bureau_id = %s",
        (UNKNOWN_COMMUNE, bureau_id, election_id, like_bureau),
    )
    conn.execute(
        "insert into raw.election_results_candidate (batch_id, election_id, source_line, "
        "code_commune, code_bv, bureau_id, numero_panneau, nuance, nom, voix) "
        "select batch_id, election_id, 9999, %s, '0001', %s, numero_panneau, nuance, nom, voix "
        "from raw.election_results_candidate where election_id = %s and bureau_id = %s",
        (UNKNOWN_COMMUNE, bureau_id, election_id, like_bureau),
    )
    return bureau_id


def remove_bureau(conn: psycopg.Connection, election_id: str, bureau_id: str) -> None:
    for table in ("election_results_bureau", "election_results_candidate"):
        conn.execute(
            f"delete from raw.{table} where election_id = %s and bureau_id = %s",
            (election_id, bureau_id),
        )
