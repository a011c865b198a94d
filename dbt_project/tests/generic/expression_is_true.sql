{#
    Fails for every row where the SQL boolean expression is false (NULL counts as passing,
    like a CHECK constraint). Narrow the rows with the standard `config: {where: ...}`.
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
