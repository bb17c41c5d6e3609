with

reu_bureaux as (

    select * from {{ ref('stg_reu__bureaux') }}

),

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

results_bureaux as (

    -- Every Ministry bureau of any loaded election.
    select
        bureau_id,
        max(code_commune) as code_commune
    from bureau_results
    group by bureau_id

),

reu_keys as (

    -- The Ministry keys a REU bureau may have, best first:
    -- 1. the Ministry's own key, when INSEE publishes it (`id_brut_miom`);
    -- 2. the key the loader derived from the REU code (`<results commune>_<code_bv>`);
    -- 3. Paris, Lyon, Marseille: a REU code numbered within its arrondissement (`12` in
    --    75115) is the Ministry's `<arrondissement number><bureau number>` (`75056_1512`).
    select
        bureau_id as reu_bureau_id,
        1 as key_rank,
        'ministry_key' as match_method,
        ministry_bureau_key as candidate_key
    from reu_bureaux
    where ministry_bureau_key is not null

    union all

    select
        bureau_id as reu_bureau_id,
        2 as key_rank,
        'bureau_id' as match_method,
        bureau_id as candidate_key
    from reu_bureaux

    union all

    select
        bureau_id as reu_bureau_id,
        3 as key_rank,
        'plm_arrondissement' as match_method,
        code_commune_results || '_'
        || lpad(
            cast(
                cast(code_commune as integer)
                - case code_commune_results
                    {%- for city, first in var('plm_first_arrondissement').items() %}
                    when '{{ city }}' then {{ first | int - 1 }}
                    {%- endfor %}
                end
                as text
            ),
            2,
            '0'
        )
        || lpad(reu_code, 2, '0') as candidate_key
    from reu_bureaux
    where
        code_commune_results in (
            {%- for city in var('plm_first_arrondissement') %}
            '{{ city }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
        and code_commune <> code_commune_results
        and code_commune ~ '^[0-9]{5}$'
        and reu_code ~ '^[0-9]{1,2}$'

),

ranked_matches as (

    select
        reu_keys.reu_bureau_id,
        reu_keys.candidate_key as bureau_id,
        reu_keys.match_method,
        row_number() over (
            partition by reu_keys.reu_bureau_id
            order by reu_keys.key_rank
        ) as match_rank
    from reu_keys
    inner join results_bureaux
        on reu_keys.candidate_key = results_bureaux.bureau_id

),

reu_side as (

    select
        coalesce(ranked_matches.bureau_id, reu_bureaux.bureau_id) as bureau_id,
        reu_bureaux.bureau_id as reu_bureau_id,
        reu_bureaux.reu_bureau_key,
        reu_bureaux.code_commune_results as code_commune,
        reu_bureaux.code_commune as reu_code_commune,
        case
            when ranked_matches.bureau_id is not null then 'matched'
            else 'reu_only'
        end as match_status,
        ranked_matches.match_method
    from reu_bureaux
    left join ranked_matches
        on
            reu_bureaux.bureau_id = ranked_matches.reu_bureau_id
            and ranked_matches.match_rank = 1

),

results_side as (

    select
        results_bureaux.bureau_id,
        cast(null as text) as reu_bureau_id,
        cast(null as text) as reu_bureau_key,
        results_bureaux.code_commune,
        cast(null as text) as reu_code_commune,
        'results_only' as match_status,
        cast(null as text) as match_method
    from results_bureaux
    where not exists (
        select 1
        from reu_side
        where
            reu_side.bureau_id = results_bureaux.bureau_id
            and reu_side.match_status = 'matched'
    )

),

final as (

    select * from reu_side
    union all
    select * from results_side

)

select * from final
