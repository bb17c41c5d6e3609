"""Faults injected into a published warehouse: raw rows a file could have carried in, or that a
wrong hand could have written, which the gate must refuse to publish.

Each fault is one or a few SQL statements over `raw` tables and the fragment the refusal must
name (a dbt test or an expectation). tests/e2e/test_hostile_faults.py runs each one against the
demo warehouse: it saves the tables the fault touches, injects it, runs `scrutin build`, checks
the refusal, the run records and that `mart` is byte-identical, then puts the rows back.

`xfail` names the item of issue 14 a fault still reproduces on main. A fault with no check
fragment ("") asserts the refusal and the run records only (its check does not exist yet, or
another check refuses it first).

A knock in a bureau no reference knows is not a fault of this list: it is left out of every
mart with its reason (`int_canvass__excluded_knocks`, `bureau_not_in_reference`; the bundled
sample carries one, tests/e2e/test_published_tables.py), the publication of every known bureau
going on. What the issue's probe saw, a bureau known to the REU only appearing in the opinion
table, now refuses the build (`int_canvass__knocks_bureau_has_election_results`).
"""

from __future__ import annotations

from dataclasses import dataclass

# One bureau of the real Brest 2024 first round, its candidates following it wherever it moves.
BUREAU = "election_id = '2024_legi_t1' and bureau_id = '29019_0007'"


def _move_bureau(commune: str, department: str) -> tuple[str, ...]:
    """Give bureau 29019_0007 of the first round another commune (and its key with it)."""
    new_id = f"{commune}_0007"
    return (
        f"update raw.election_results_candidate set bureau_id = '{new_id}' where {BUREAU}",
        f"update raw.election_results_bureau set code_commune = '{commune}', "
        f"code_departement = '{department}', bureau_id = '{new_id}' where {BUREAU}",
    )


@dataclass(frozen=True)
class Fault:
    """`tables`: every raw table `sql` writes (saved before, restored after)."""

    id: str
    tables: tuple[str, ...]
    sql: tuple[str, ...]
    check: str
    xfail: str | None = None


FAULTS: list[Fault] = [
    Fault(
        "more-voters-than-registered",
        ("raw.election_results_bureau",),
        (f"update raw.election_results_bureau set votants = inscrits + 50 where {BUREAU}",),
        "voters",
    ),
    Fault(
        "negative-abstentions",
        ("raw.election_results_bureau",),
        (f"update raw.election_results_bureau set abstentions = -3 where {BUREAU}",),
        "abstentions",
    ),
    Fault(
        "candidate-votes-exceed-valid-votes",
        ("raw.election_results_candidate",),
        (
            "update raw.election_results_candidate set voix = voix + 500 "
            f"where {BUREAU} and numero_panneau = 1",
        ),
        "valid_votes",
    ),
    Fault(
        "duplicate-bureau-row",
        ("raw.election_results_bureau",),
        (
            "insert into raw.election_results_bureau select * from raw.election_results_bureau "
            f"where {BUREAU}",
        ),
        "unique",
    ),
    Fault(
        "candidate-without-its-bureau",
        ("raw.election_results_candidate",),
        (
            "insert into raw.election_results_candidate select * from "
            f"raw.election_results_candidate where {BUREAU} and numero_panneau = 1",
            "update raw.election_results_candidate set bureau_id = '29019_0999' "
            "where ctid = (select max(ctid) from raw.election_results_candidate "
            f"where {BUREAU} and numero_panneau = 1)",
        ),
        "bureau",
    ),
    Fault(
        "nuance-without-a-bloc",
        ("raw.election_results_candidate",),
        (
            "update raw.election_results_candidate set nuance = 'ZZZ' "
            f"where {BUREAU} and numero_panneau = 1",
        ),
        "bloc",
    ),
    Fault(
        "blank-votes-negative",
        ("raw.election_results_bureau",),
        (f"update raw.election_results_bureau set blancs = -1 where {BUREAU}",),
        "blan",
    ),
    Fault(
        "census-negative-population",
        ("raw.census_iris_values",),
        (
            "update raw.census_iris_values set value = -500 where ctid = (select min(ctid) "
            "from raw.census_iris_values where prefix = 'P' and indicator = 'POP' and value > 0)",
        ),
        "population",
    ),
    Fault(
        "canvass-unknown-outcome",
        ("raw.canvass_knocks",),
        (
            "update raw.canvass_knocks set outcome = 'abducted' "
            "where ctid = (select min(ctid) from raw.canvass_knocks)",
        ),
        "outcome",
    ),
    Fault(
        "iris-weight-above-one",
        ("raw.iris_bureau_weights",),
        (
            "update raw.iris_bureau_weights set weight = 1.5 "
            "where ctid = (select min(ctid) from raw.iris_bureau_weights)",
        ),
        "weight",
    ),
    # the implausible data issue 14 found published (refused since the plausibility merge)
    Fault(
        "election-loses-half-its-bureaux",
        ("raw.election_results_bureau", "raw.election_results_candidate"),
        (
            "delete from raw.election_results_candidate where election_id = '2024_legi_t1' "
            "and bureau_id > '29019_0050'",
            "delete from raw.election_results_bureau where election_id = '2024_legi_t1' "
            "and bureau_id > '29019_0050'",
        ),
        "assert_published_elections_keep_their_bureaux",
    ),
    Fault(
        "unknown-commune-29999",
        ("raw.election_results_bureau", "raw.election_results_candidate"),
        _move_bureau("29999", "29"),
        "assert_bureau_communes_are_known_to_the_reference",
    ),
    Fault(
        "commune-of-another-departement",
        ("raw.election_results_bureau", "raw.election_results_candidate"),
        _move_bureau("56121", "29"),
        "",  # refused first by the volume check: the bureau leaves 29019's published ones
    ),
    Fault(
        "zero-registered",
        ("raw.election_results_bureau", "raw.election_results_candidate"),
        (
            "update raw.election_results_bureau set inscrits = 0, abstentions = 0, votants = 0, "
            f"exprimes = 0, blancs = 0, nuls = 0 where {BUREAU}",
            f"update raw.election_results_candidate set voix = 0 where {BUREAU}",
        ),
        "",
    ),
    Fault(
        "census-value-1e308",
        ("raw.census_iris_values",),
        (
            "update raw.census_iris_values set value = 1e308 where ctid = (select min(ctid) "
            "from raw.census_iris_values where prefix = 'P' and indicator = 'POP' and value > 0)",
        ),
        "",
    ),
    Fault(
        "a-new-bureau-from-another-departement",
        ("raw.election_results_bureau", "raw.election_results_candidate"),
        (  # a bureau of Morbihan (56) added to the Finistère file, with its candidates (a
            # bureau without them is refused first by the nuance-sum test): nothing published
            # is lost, so only the département check can see it
            "insert into raw.election_results_bureau select (jsonb_populate_record("
            "null::raw.election_results_bureau, to_jsonb(b) || jsonb_build_object("
            "'code_commune', '56178', 'bureau_id', '56178_0007', 'source_line', 9999))).* "
            f"from raw.election_results_bureau as b where {BUREAU}",
            "insert into raw.election_results_candidate select (jsonb_populate_record("
            "null::raw.election_results_candidate, to_jsonb(c) || jsonb_build_object("
            "'bureau_id', '56178_0007'))).* "
            f"from raw.election_results_candidate as c where {BUREAU}",
        ),
        "code_commune lies in code_departement",
    ),
    Fault(
        "roll-count-in-an-unknown-bureau",
        ("raw.roll_bureau_counts",),
        (  # one elector's sex and age band under a surname, as the probe published
            "insert into raw.roll_bureau_counts (batch_id, reference_date, code_commune, "
            "code_commune_results, code_bv, bureau_id, list_type, age_band, sex, voters) "
            "select batch_id, reference_date, code_commune, code_commune_results, 'DUPONTEL', "
            "'29061_DUPONTEL', list_type, age_band, sex, 1 from raw.roll_bureau_counts "
            "where code_commune = '29061' limit 1",
        ),
        "every bureau is a bureau of the REU or of the results",
    ),
]
