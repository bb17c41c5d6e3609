-- No hour of the volunteer plan goes to a bureau marked do_not_mobilise, nor to one whose
-- effect is unknown (do_not_mobilise null: no q): there a conversation may lose votes.
-- Returns the plan rows that do.
{{ config(tags=['scores']) }}

select
    plan.bureau_id,
    plan.hours,
    targeting.do_not_mobilise,
    targeting.net_per_conversation
from {{ ref('canvass_plan') }} as plan
inner join {{ ref('polling_station_targeting') }} as targeting
    on plan.bureau_id = targeting.bureau_id
where targeting.do_not_mobilise is not false
