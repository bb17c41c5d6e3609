{#- Great-circle distance in metres (haversine, mean Earth radius 6,371,008.8 m) between two
    WGS84 points given as SQL expressions. The canvass rules use it: a knock's nearest REU
    address (int_canvass__bureau_matches) and two knocks too far apart for the time between them
    (int_canvass__fast_knock_pairs). The expression is the one the canvass loader evaluated
    before these rules moved to dbt, term for term, so the same points give the same metres. -#}
{% macro haversine_m(longitude_a, latitude_a, longitude_b, latitude_b) -%}
    (2 * 6371008.8 * asin(sqrt(
        power(sin(radians({{ latitude_b }} - {{ latitude_a }}) / 2), 2)
        + cos(radians({{ latitude_a }})) * cos(radians({{ latitude_b }}))
        * power(sin(radians({{ longitude_b }} - {{ longitude_a }}) / 2), 2)
    )))
{%- endmacro %}

{#- The published step of a count of answers: the count floored to a multiple of k_min
    (`var('k_min')`), so 0 below k_min. Opinion figures are computed on the first
    `k_min_step(n)` answers of a cell only (int_canvass__answers): two publications of the same
    cell then differ by whole steps of k_min answers or not at all, and no difference of two
    published figures isolates fewer than k_min respondents (docs/privacy.md). -#}
{% macro k_min_step(count) -%}
    {%- set k_min = canvass_k_min() -%}
    (({{ count }}) / {{ k_min }} * {{ k_min }})
{%- endmacro %}

{#- The k-minimum suppression threshold (GDPR art. 9): the project var `k_min` (the campaign's,
    default 11), refused at compile time unless a positive integer. -#}
{% macro canvass_k_min() -%}
    {%- set k_min = var('k_min') | int -%}
    {%- if k_min < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var k_min must be a positive integer, got " ~ var('k_min')
        ) }}
    {%- endif -%}
    {{ return(k_min) }}
{%- endmacro %}

{#-
    The batches an incremental canvass model (int_canvass__bureau_matches,
    int_canvass__knock_versions: one row per landed row, keyed by batch_id and line_no) has
    seen, and those that lost rows since. Both rest on how rows land: a batch lands whole, in
    the loader's one transaction with its ledger row (ingestion/canvass/loader.py), and later
    only loses rows (the retention purge deletes some; a superseding load or a failed ledger
    status takes all of them out of stg_canvass__knocks). No row is ever added to a batch
    already landed. So:
      * the rows landed since the last build are the rows of the batches the table has not
        seen: a hash over some thousands of batch ids, where an anti join of the rows hashed a
        million (batch_id, line_no) pairs (about 1 s each nationally);
      * a row is no longer landed only in a batch the table holds more rows of than are landed
        now: two counts per batch instead of a million-row anti join.
    assert_canvass_landed_knocks_are_counted_or_excluded would refuse a build that left a
    landed row out (every landed row must be counted or excluded).
-#}
{% macro canvass_batches_seen(relation) -%}
    select distinct batch_id from {{ relation }}
{%- endmacro %}

{% macro canvass_batches_shrunk(relation, landed) -%}
    select kept.batch_id
    from (
        select
            batch_id,
            count(*) as kept_rows
        from {{ relation }}
        group by batch_id
    ) as kept
    left join (
        select
            batch_id,
            count(*) as landed_rows
        from {{ landed }}
        group by batch_id
    ) as landed_now
        on kept.batch_id = landed_now.batch_id
    where coalesce(landed_now.landed_rows, 0) < kept.kept_rows
{%- endmacro %}

{#-
    Post-hook of the canvass models that are incremental in the gate's incremental builds
    (int_canvass__bureau_matches, int_canvass__knock_versions): delete the rows whose landed row
    is no longer landed (purged, or its batch left the loaded ledger), so the table stays one
    row per landed row. Only the batches that lost rows are looked at (canvass_batches_shrunk:
    none, in a build after new deliveries only). A full build rewrote the table: nothing to
    delete.
-#}
{% macro delete_unlanded_rows() -%}
    {%- if is_incremental() -%}
        {%- set landed = ref('stg_canvass__knocks') -%}
        delete from {{ this }} as kept
        where
            kept.batch_id in ({{ canvass_batches_shrunk(this, landed) }})
            and not exists (
                select 1
                from {{ landed }} as landed
                where
                    landed.batch_id = kept.batch_id
                    and landed.line_no = kept.line_no
            )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
