"""The SQL checks' expectation, computed by one query instead of two.

GX 1.24's `UnexpectedRowsExpectation` depends on two metrics that each run the check's query:
`unexpected_rows_query.row_count` (`select count(*) from (query)`) and
`unexpected_rows_query.table` (the query itself, 200 rows kept). A duplicate-key check is a
group-by over the whole raw table (2.3 million candidate rows at national size), so every SQL
check paid for its query twice, whether it passed or not.

`UnexpectedRowsCountedOnce` is that expectation with a single metric,
`unexpected_rows_query.counted_sample`: `select q.*, count(*) over () from (query) q limit 200`
returns the first 200 offending rows, each carrying the total number of offending rows, so the
count and the sample come from one execution of the query. Its result has the same shape as the
parent's (`observed_value`, `details.unexpected_rows`): the verdict, the recorded examples and
their redaction for personal tables (`expectations.results.scrub_examples`, and the
`partial_unexpected_count` of 0 the Checkpoint asks for them) are unchanged.

GX registers expectation and metric classes when they are defined, so both are defined once per
process, on first use (`expectation_class()`): importing GX costs ~7 s and DAG files import the
suite specs.
"""

from __future__ import annotations

import functools
from typing import Any

# The column the window count is returned in; dropped from the sample rows.
TOTAL_COLUMN = "scrutin_unexpected_total"
COUNTED_SAMPLE_METRIC = "unexpected_rows_query.counted_sample"


def counted_sample_sql(substituted_query: str, limit: int) -> str:
    """The check's query (its `{batch}` already substituted), its total row count on every row,
    the first `limit` rows only: one execution of the query for both figures."""
    return (
        f"select unexpected.*, count(*) over () as {TOTAL_COLUMN}\n"
        f"from ({substituted_query}) as unexpected\n"
        f"limit {int(limit)}"
    )


def split_counted_sample(records: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """(total offending rows, the sample rows without the count column); no row means 0."""
    total = int(records[0][TOTAL_COLUMN]) if records else 0
    return total, [{k: v for k, v in row.items() if k != TOTAL_COLUMN} for row in records]


@functools.cache
def expectation_class() -> type:
    """`UnexpectedRowsCountedOnce` and its metric, defined (and registered with GX) once."""
    from typing import ClassVar

    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
    from great_expectations.constants import MAX_RESULT_RECORDS
    from great_expectations.core.metric_domain_types import MetricDomainTypes
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations import UnexpectedRowsExpectation
    from great_expectations.expectations.metrics.metric_provider import metric_value
    from great_expectations.expectations.metrics.query_metric_provider import (
        QueryMetricProvider,
    )

    class UnexpectedRowsQueryCountedSample(QueryMetricProvider):
        """{"row_count": n, "rows": the first 200 rows}, from one query (see the module)."""

        metric_name = COUNTED_SAMPLE_METRIC
        value_keys = ("unexpected_rows_query",)
        query_param_name: ClassVar[str] = "unexpected_rows_query"

        # `metric_value` makes it a classmethod, as in GX's own metric providers.
        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(
            cls,  # noqa: N805
            execution_engine: SqlAlchemyExecutionEngine,
            metric_domain_kwargs: dict,
            metric_value_kwargs: dict,
            metrics: dict[str, Any],
            runtime_configuration: dict,
        ) -> dict[str, Any]:
            batch_selectable, _, _ = execution_engine.get_compute_domain(
                metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
            )
            query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
            substituted = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
                query=query, batch_selectable=batch_selectable, execution_engine=execution_engine
            )
            result = execution_engine.execute_query(
                sa.text(counted_sample_sql(substituted, MAX_RESULT_RECORDS))
            )
            total, rows = split_counted_sample([row._asdict() for row in result.fetchall()])
            return {"row_count": total, "rows": rows}

    class UnexpectedRowsCountedOnce(UnexpectedRowsExpectation):
        """`UnexpectedRowsExpectation` whose count and sample come from one query."""

        metric_dependencies: ClassVar[tuple[str, ...]] = (COUNTED_SAMPLE_METRIC,)

        def _validate(
            self,
            metrics: dict,
            runtime_configuration: dict | None = None,
            execution_engine: Any = None,
        ) -> Any:
            sample = metrics[COUNTED_SAMPLE_METRIC]
            return super()._validate(
                {
                    "unexpected_rows_query.table": sample["rows"],
                    "unexpected_rows_query.row_count": sample["row_count"],
                },
                runtime_configuration,
                execution_engine,
            )

    return UnexpectedRowsCountedOnce
