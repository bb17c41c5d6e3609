{#-
    Fails for every rank of 1..n (n = the model's row count) that no row holds, and every row
    whose rank is outside 1..n: a rank volunteers read must have no gap, no tie and no hole.
    `ignore_nulls`: rows without a rank (not rankable, e.g. an unscored bureau) are left out and
    n counts the ranked rows only.
-#}
{% test is_dense_rank(model, column_name, ignore_nulls=false) %}

with

ranked as (

    select {{ column_name }} as rank_value
    from {{ model }}
    {%- if ignore_nulls %}
    where {{ column_name }} is not null
    {%- endif %}

),

expected as (

    select generate_series(1, (select count(*) from ranked)) as rank_value

)

select
    coalesce(ranked.rank_value, expected.rank_value) as rank_value,
    case when ranked.rank_value is null then 'missing' else 'outside 1..n' end as problem
from ranked
full outer join expected
    on ranked.rank_value = expected.rank_value
where ranked.rank_value is null
    or expected.rank_value is null

{% endtest %}
