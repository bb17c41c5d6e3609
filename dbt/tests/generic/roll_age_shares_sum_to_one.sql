{#-
    `shares_sum_to_one` over the age-band shares: one `share_age_<band>` column per band of the
    var `roll_age_bands` ('-' -> '_', '+' -> '_plus'), so a band added to the var is checked
    without editing the test. Every elector of the principal list is in exactly one band.
-#}
{% test roll_age_shares_sum_to_one(model, condition='true', tolerance=1e-9) %}

{%- set columns = [] -%}
{%- for band in var('roll_age_bands') -%}
    {%- do columns.append('share_age_' ~ (band | replace('-', '_') | replace('+', '_plus'))) -%}
{%- endfor -%}

{{ test_shares_sum_to_one(model, columns, condition, tolerance) }}

{% endtest %}
