{#
    Fails for every non-NULL value outside [min_value, max_value] (or the open interval when
    inclusive is false). Either bound may be omitted. NULLs are left to not_null.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

with

validation as (

    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null

)

select *
from validation
where
    false
    {%- if min_value is not none %}
    or value {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
    or value {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}

{% endtest %}
