"""Raw-data quality suites declared as code, each expectation marked `fail` or `warn`.

Great Expectations guards what the loaders land in `raw` (this module: the election results;
`suites_<source>.py`: every other source), run by `expectations.checkpoint` at ingestion and
again by the audit gate. What the marts must satisfy is not here: cross-table and business
invariants of `mart_audit` are dbt tests (dbt/tests/, model YAMLs), and the published scores are
recomputed by `expectations.score_audit` (docs/operations.md, "Where each check lives").

`fail` is a circuit breaker: one failed `fail` check blocks the publication (and the asset
emission). `warn` is recorded in `ops.quality_results` and nothing more.

The specs are plain data so that DAG files and the CLI can import the suite names without paying
for the Great Expectations import (~7 s); `Check.build()` turns a check into a GX 1.x expectation
only when a Checkpoint needs it.

SQL checks (`UnexpectedRowsExpectation`) write `{batch}` for the validated table and only look at
raw rows of batches whose ledger status is `loaded` (a join on `raw.batch_ledger`): a failed load
rolls back, but a batch that is still `running` or was `superseded` must not decide the gate.

GX 1.24 renders `{batch}` of a table asset in two ways: `(select * from t where true) AS subselect`
when the query has no JOIN, a bare `(select ...)` when it has one ("aliasing is up to you"). Every
SQL check here therefore contains a JOIN and aliases `{batch}` itself; `no_rows()` enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from expectations.results import Severity
from ingestion.sources.results_codes import OVERSEAS_PREFIX, SAINT_BARTH_SAINT_MARTIN
from scrutin.vocabulary import BUREAU_ID_REGEX as VOCABULARY_BUREAU_ID_REGEX

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

RAW_BUREAU_TABLE = "raw.election_results_bureau"
RAW_CANDIDATE_TABLE = "raw.election_results_candidate"
BATCH_LEDGER_TABLE = "raw.batch_ledger"

BUREAU_COUNT_COLUMNS = ("inscrits", "votants", "abstentions", "exprimes", "blancs", "nuls")

# `<code_commune>_<code_bv>` (vars.bureau_id_pattern of dbt/dbt_project.yml): overseas and
# abroad (ZZ) included; an unpadded `29019_1` is refused, `13055_A12` accepted.
BUREAU_ID_REGEX = VOCABULARY_BUREAU_ID_REGEX

# The GX class of SQL checks: `query` selects the offending rows.
SQL_EXPECTATION = "UnexpectedRowsExpectation"

_JOIN_KEYWORD = re.compile(r"\bjoin\b", re.IGNORECASE)
_ALIASED_BATCH = re.compile(r"\{batch\}\s+as\s+\w+", re.IGNORECASE)


# GX 1.x carries its own failure severity; keep it in step for anyone reading raw GX results.
_GX_SEVERITY: Mapping[str, str] = MappingProxyType({"fail": "critical", "warn": "warning"})


def _snake_case(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, by GX 1.x class name and arguments, with its severity.

    `columns` names what the check is about when the arguments do not (SQL checks); `label`
    says in words what a SQL check asserts, for the failure message. `whole_table`: a SQL check
    whose verdict depends on rows already validated (a rate, a retention date, the ledger), run
    on every row even when the suite validates only the batches landed since
    (`SuiteSpec.delta_column`).
    """

    expectation: str
    kwargs: Mapping[str, Any]
    severity: Severity = "fail"
    columns: tuple[str, ...] = ()
    label: str | None = None
    whole_table: bool = False

    def __post_init__(self) -> None:
        if self.severity not in ("fail", "warn"):
            raise ValueError(f"severity must be 'fail' or 'warn', got {self.severity!r}")
        if self.whole_table and self.expectation != SQL_EXPECTATION:
            raise ValueError(f"only a SQL check can be whole_table, not {self.expectation}")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    @property
    def expectation_type(self) -> str:
        """GX's snake-case type, e.g. `expect_column_values_to_be_between`."""
        return _snake_case(self.expectation)

    @property
    def column(self) -> str | None:
        """The column(s) the check is about, comma-separated, as stored in ops.quality_results."""
        kw = self.kwargs
        if self.columns:
            names: tuple[str, ...] = self.columns
        elif "column" in kw:
            names = (kw["column"],)
        elif "column_A" in kw:
            names = (kw["column_A"], kw["column_B"])
        elif "column_list" in kw:
            names = tuple(kw["column_list"])
        else:
            return None
        return ", ".join(names)

    @property
    def title(self) -> str:
        """`expect_column_values_to_be_between(votants)`: how failures name the check."""
        return f"{self.expectation_type}({self.column or ''})"

    def build(self, meta: Mapping[str, Any] | None = None) -> Expectation:
        """The GX expectation (imports Great Expectations)."""
        import great_expectations.expectations as gxe

        from expectations.unexpected_rows import expectation_class

        # SQL checks: the same expectation, its count and sample from one query (see there).
        cls = (
            expectation_class()
            if self.expectation == SQL_EXPECTATION
            else getattr(gxe, self.expectation)
        )
        # Caught per expectation: one broken check must not hide the results of the others.
        extra: dict[str, Any] = {
            "meta": dict(meta or {}),
            "catch_exceptions": True,
            "severity": _GX_SEVERITY[self.severity],
        }
        if self.label:
            extra["description"] = self.label
        expectation: Expectation = cls(**self.kwargs, **extra)
        return expectation


@dataclass(frozen=True)
class SuiteSpec:
    """A named suite guarding one schema-qualified table.

    `requires` lists the other tables its SQL checks read; `key_columns` identify a row in the
    examples of a failed column check.

    `delta_column` (the batch of each row, leading an index of the table) lets a table that only
    grows be validated by its new batches: when the table was only appended to or deleted from
    since a passed validation of the same checks, the checks run on the rows of the batches that
    validation did not cover, and the `whole_table` checks on every row
    (expectations/validations.py). Only `whole_table` checks may then read the other tables of
    `requires` (the ledger aside): their writes cannot change a verdict on rows already validated.
    """

    name: str
    table: str
    checks: tuple[Check, ...]
    description: str = ""
    requires: tuple[str, ...] = field(default=())
    key_columns: tuple[str, ...] = ("election_id", "bureau_id")
    delta_column: str | None = None

    def __post_init__(self) -> None:
        if "." not in self.table:
            raise ValueError(f"suite {self.name}: table must be schema-qualified, got {self.table}")
        if self.delta_column is None and any(check.whole_table for check in self.checks):
            raise ValueError(f"suite {self.name}: whole_table checks need a delta_column")
        if self.delta_column is not None:
            # A check run on new batches only must not read another input (the ledger aside:
            # a batch's status moves with its rows): a write there could change the verdict
            # on rows already validated, and only whole-table checks read those.
            for check in self.checks:
                query = str(check.kwargs.get("unexpected_rows_query", ""))
                read = [t for t in self.requires if t != BATCH_LEDGER_TABLE and t in query]
                if read and not check.whole_table:
                    raise ValueError(
                        f"suite {self.name}: check {check.label!r} reads {read}: "
                        "make it whole_table"
                    )

    @property
    def schema_name(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


# ---- check constructors: one line per expectation in the suites below -----------------------


def between(
    column: str,
    min_value: float | None = None,
    max_value: float | None = None,
    severity: Severity = "fail",
) -> Check:
    kwargs: dict[str, Any] = {"column": column}
    if min_value is not None:
        kwargs["min_value"] = min_value
    if max_value is not None:
        kwargs["max_value"] = max_value
    return Check("ExpectColumnValuesToBeBetween", kwargs, severity)


def a_at_least_b(column_a: str, column_b: str, severity: Severity = "fail") -> Check:
    """column_a >= column_b on every row."""
    return Check(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": column_a, "column_B": column_b, "or_equal": True},
        severity,
    )


def unique_together(*columns: str, severity: Severity = "fail") -> Check:
    return Check("ExpectCompoundColumnsToBeUnique", {"column_list": list(columns)}, severity)


def matches(column: str, regex: str, severity: Severity = "fail") -> Check:
    return Check("ExpectColumnValuesToMatchRegex", {"column": column, "regex": regex}, severity)


def in_set(column: str, values: Sequence[str], severity: Severity = "fail") -> Check:
    """Every value of `column` is one of `values` (nulls pass: `not_null` says otherwise)."""
    return Check(
        "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)}, severity
    )


def not_null(column: str, severity: Severity = "fail") -> Check:
    return Check("ExpectColumnValuesToNotBeNull", {"column": column}, severity)


def row_count_at_least(min_value: int, severity: Severity = "fail") -> Check:
    return Check("ExpectTableRowCountToBeBetween", {"min_value": min_value}, severity)


def no_rows(
    label: str,
    query: str,
    columns: tuple[str, ...],
    severity: Severity = "fail",
    *,
    whole_table: bool = False,
) -> Check:
    """A SQL check: `query` selects the offending rows (keys first, they become the examples).

    The query must join (on the batch ledger, say) and alias `{batch}`: see the module docstring.
    `whole_table`: see `Check`.
    """
    if not (_JOIN_KEYWORD.search(query) and _ALIASED_BATCH.search(query)):
        raise ValueError(f"SQL check {label!r} must contain a JOIN and alias {{batch}}: {query}")
    return Check(
        SQL_EXPECTATION,
        {"unexpected_rows_query": query},
        severity,
        columns=columns,
        label=label,
        whole_table=whole_table,
    )


# ---- SQL builders shared by the suites of every source --------------------------------------
# Each returns the text of a `no_rows()` query over `{batch}` aliased `alias`, joined to the
# ledger as `l`. Keys are bare column names (qualified with `alias` here) and come first in the
# select list: they become the examples of a failed check.


def loaded_rows(alias: str, columns: str, condition: str, *, keys: tuple[str, ...] = ()) -> str:
    """Rows of `loaded` batches that break `condition`: `keys`, then `columns`.

    `columns` is a select-list fragment already qualified with `alias` (several columns: one a
    line, indented like the keys); `condition` is an SQL predicate on `alias`. Rows of batches
    that are `running` or `superseded` are left out: see the module docstring.
    """
    select_list = ",\n    ".join([*(f"{alias}.{key}" for key in keys), columns])
    return f"""
select
    {select_list}
from {{batch}} as {alias}
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = {alias}.batch_id
where l.status = 'loaded'
    and {condition}
"""


def duplicate_keys(alias: str, keys: tuple[str, ...]) -> str:
    """Key values held by more than one row of `loaded` batches, with their row count.

    A SQL group-by, not ExpectCompoundColumnsToBeUnique: GX computes that one with a self-join
    of the whole table, run twice (~7 s on 690,000 candidate rows, ~2 s for this query), and it
    cannot leave out the rows of batches that are not `loaded`.
    """
    key_list = ",\n    ".join(f"{alias}.{key}" for key in keys)
    return f"""
select
    {key_list},
    count(*) as row_count
from {{batch}} as {alias}
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = {alias}.batch_id
where l.status = 'loaded'
group by
    {key_list}
having count(*) > 1
"""


def rows_outside_loaded_batches(alias: str, keys: tuple[str, ...]) -> str:
    """Rows whose batch is unknown to the ledger or not `loaded`: `keys`, batch_id, status.

    Raw tables carry no foreign key to the ledger (it slowed national COPY loads), so only the
    loaders' own clean-up of superseded batches keeps such rows out: a leftover that the other
    SQL checks ignore but the column checks and dbt still see.
    """
    select_list = ",\n    ".join(f"{alias}.{key}" for key in (*keys, "batch_id"))
    return f"""
select
    {select_list},
    l.status
from {{batch}} as {alias}
left join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = {alias}.batch_id
where l.batch_id is null
    or l.status <> 'loaded'
"""


LOADED_BATCH_LABEL = f"every row belongs to a loaded batch of {BATCH_LEDGER_TABLE}"


def belongs_to_loaded_batch(
    alias: str,
    keys: tuple[str, ...],
    *,
    label: str = LOADED_BATCH_LABEL,
    whole_table: bool = False,
) -> Check:
    """The `warn` check of `rows_outside_loaded_batches()`, about column `batch_id`.

    Only a warning: such rows do not decide the other SQL checks (they read `loaded` batches
    only); the warning says that they are still there. `whole_table` in a suite validated by new
    batches: a batch's status changes in the ledger, not in the table.
    """
    return no_rows(
        label,
        rows_outside_loaded_batches(alias, keys),
        columns=("batch_id",),
        severity="warn",
        whole_table=whole_table,
    )


# ---- raw_election_results -------------------------------------------------------------------

_ELECTION_KEYS = ("election_id", "bureau_id")

# Plausibility checks (docs/quality.md): their labels are the names a refusal prints, and the
# hostile-input suite looks them up.
REGISTERED_LABEL = "inscrits > 0: a bureau de vote has registered voters"
COMMUNE_IN_DEPARTEMENT_LABEL = "code_commune lies in code_departement (2A/2B, 97x, ZZ abroad)"


def departement_of_commune(code_commune: str) -> str:
    """SQL: the INSEE département of a commune code (3 characters overseas, else 2: `2A`, `ZZ`);
    the same rule as the dbt macro `departement_of_commune`."""
    return (
        f"case when left({code_commune}, 2) in ('97', '98') then left({code_commune}, 3) "
        f"else left({code_commune}, 2) end"
    )


def insee_departement(code_departement: str, code_commune: str) -> str:
    """SQL: the INSEE département a results row declares: its code, or the INSEE code of a
    Ministry letter code (`ZA` -> `971`; `ZX` holds 977 and 978: the commune's own)."""
    whens = " ".join(
        f"when '{ministry}' then '{insee}'" for ministry, insee in OVERSEAS_PREFIX.items()
    )
    return (
        f"case {code_departement} {whens} "
        f"when '{SAINT_BARTH_SAINT_MARTIN}' then left({code_commune}, 3) "
        f"else {code_departement} end"
    )


RAW_ELECTION_RESULTS = SuiteSpec(
    name="raw_election_results",
    table=RAW_BUREAU_TABLE,
    description="Ministry per-bureau results as landed: keys, identifiers, count arithmetic.",
    requires=(BATCH_LEDGER_TABLE,),
    checks=(
        unique_together("election_id", "bureau_id"),
        matches("bureau_id", BUREAU_ID_REGEX),
        no_rows(
            "bureau_id = code_commune || '_' || code_bv",
            loaded_rows(
                "b",
                "b.code_commune,\n    b.code_bv",
                "b.bureau_id <> b.code_commune || '_' || b.code_bv",
                keys=_ELECTION_KEYS,
            ),
            columns=("bureau_id", "code_commune", "code_bv"),
        ),
        *(between(column, min_value=0) for column in BUREAU_COUNT_COLUMNS),
        no_rows(
            REGISTERED_LABEL,
            loaded_rows("b", "b.inscrits,\n    b.votants", "b.inscrits <= 0", keys=_ELECTION_KEYS),
            columns=("inscrits",),
        ),
        no_rows(
            COMMUNE_IN_DEPARTEMENT_LABEL,
            loaded_rows(
                "b",
                "b.code_departement,\n    b.code_commune",
                f"{departement_of_commune('b.code_commune')} <> "
                f"{insee_departement('b.code_departement', 'b.code_commune')}",
                keys=_ELECTION_KEYS,
            ),
            columns=("code_departement", "code_commune"),
        ),
        a_at_least_b("inscrits", "votants"),
        a_at_least_b("votants", "exprimes"),
        no_rows(
            "inscrits = votants + abstentions",
            loaded_rows(
                "b",
                "b.inscrits,\n    b.votants,\n    b.abstentions",
                "b.inscrits <> b.votants + b.abstentions",
                keys=_ELECTION_KEYS,
            ),
            columns=("inscrits", "votants", "abstentions"),
            severity="warn",
        ),
        no_rows(
            "votants = exprimes + blancs + nuls",
            loaded_rows(
                "b",
                "b.votants,\n    b.exprimes,\n    b.blancs,\n    b.nuls",
                "b.votants <> b.exprimes + b.blancs + b.nuls",
                keys=_ELECTION_KEYS,
            ),
            columns=("votants", "exprimes", "blancs", "nuls"),
        ),
        belongs_to_loaded_batch("b", _ELECTION_KEYS),
    ),
)

# ---- raw_election_candidates ----------------------------------------------------------------

# Every bureau of an election that has candidate rows: its votes must add up to `exprimes`
# (a bureau with no candidate row at all counts 0 votes, so a dropped block is caught too).
_VOTES_MATCH_VALID = f"""
with candidate_votes as (
    select
        c.election_id,
        c.bureau_id,
        sum(c.voix) as voix
    from {{batch}} as c
    inner join {BATCH_LEDGER_TABLE} as l
        on l.batch_id = c.batch_id
    where l.status = 'loaded'
    group by
        c.election_id,
        c.bureau_id
),

bureaux as (
    select
        b.election_id,
        b.bureau_id,
        b.exprimes
    from {RAW_BUREAU_TABLE} as b
    inner join {BATCH_LEDGER_TABLE} as l
        on l.batch_id = b.batch_id
    where l.status = 'loaded'
        and b.election_id in (select election_id from candidate_votes)
)

select
    bureaux.election_id,
    bureaux.bureau_id,
    coalesce(candidate_votes.voix, 0) as sum_voix,
    bureaux.exprimes
from bureaux
left join candidate_votes
    on candidate_votes.election_id = bureaux.election_id
    and candidate_votes.bureau_id = bureaux.bureau_id
where coalesce(candidate_votes.voix, 0) <> bureaux.exprimes
"""

_CANDIDATE_BUREAU_EXISTS = f"""
select
    c.election_id,
    c.bureau_id,
    c.numero_panneau
from {{batch}} as c
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = c.batch_id
where l.status = 'loaded'
    and not exists (
        select 1
        from {RAW_BUREAU_TABLE} as b
        inner join {BATCH_LEDGER_TABLE} as bl
            on bl.batch_id = b.batch_id
        where b.election_id = c.election_id
            and b.bureau_id = c.bureau_id
            and bl.status = 'loaded'
    )
"""

RAW_ELECTION_CANDIDATES = SuiteSpec(
    name="raw_election_candidates",
    table=RAW_CANDIDATE_TABLE,
    description="Votes per candidate as landed: non-negative, one row per panel, sum = exprimes.",
    requires=(BATCH_LEDGER_TABLE, RAW_BUREAU_TABLE),
    checks=(
        between("voix", min_value=0),
        no_rows(
            "one row per (election_id, bureau_id, numero_panneau)",
            duplicate_keys("c", (*_ELECTION_KEYS, "numero_panneau")),
            columns=("election_id", "bureau_id", "numero_panneau"),
        ),
        no_rows(
            "sum(voix) per (election_id, bureau_id) = exprimes of the bureau",
            _VOTES_MATCH_VALID,
            columns=("voix", "exprimes"),
        ),
        no_rows(
            f"every candidate row's bureau exists in {RAW_BUREAU_TABLE}",
            _CANDIDATE_BUREAU_EXISTS,
            columns=("election_id", "bureau_id"),
        ),
        belongs_to_loaded_batch("c", _ELECTION_KEYS),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {spec.name: spec for spec in (RAW_ELECTION_RESULTS, RAW_ELECTION_CANDIDATES)}
)
RAW_SUITES: tuple[str, ...] = tuple(SUITES)
