{#
    Feature formulas shared by several models. Every macro returns NULL when an input is NULL or
    outside the formula's domain: a missing input never becomes a silent zero.
#}

{% macro round_sig(expr, digits=none) -%}
    {#- expr rounded to `digits` significant figures (default var feature_significant_figures),
        as double precision; NULL stays NULL, 0 stays 0. -#}
    {%- set digits = digits or var('feature_significant_figures') -%}
    case
        when ({{ expr }}) = 0 then cast(0 as double precision)
        else cast(
            round(
                cast({{ expr }} as numeric),
                {{ digits }} - 1 - cast(floor(log(abs({{ expr }}))) as integer)
            ) as double precision
        )
    end
{%- endmacro %}


{% macro safe_log10(expr) -%}
    {#- log10(expr) for expr > 0, else NULL. -#}
    case when ({{ expr }}) > 0 then log({{ expr }}) end
{%- endmacro %}


{% macro relative_uncertainty(value, err1, err2) -%}
    {#- Mean half-width of the archive's asymmetric interval relative to the value:
        ((err1 - err2) / 2) / |value| (err2 is the negative lower error); NULL when value = 0. -#}
    (({{ err1 }}) - ({{ err2 }})) / 2.0 / nullif(abs({{ value }}), 0)
{%- endmacro %}


{% macro stellar_density_catalogue_gcc(logg_cgs, radius_solar) -%}
    {#- Mean stellar density [g cm^-3] from catalogue gravity and radius:
        rho = M / (4/3 pi R^3) with M = g R^2 / G  =>  rho = 3 g / (4 pi G R). -#}
    3.0 * power(10.0, {{ logg_cgs }})
        / (
            4.0 * pi() * {{ var('gravitational_constant_cgs') }}
            * nullif({{ radius_solar }}, 0) * {{ var('solar_radius_cm') }}
        )
{%- endmacro %}
