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


{% macro radius_class(radius_earth) -%}
    {#- Planet-size class from the radius [Earth radii]: earth_size < 1.25 <= super_earth < 2
        <= sub_neptune < 4 <= neptune < 6 <= giant <= 15 < very_large; NULL without a radius. -#}
    case
        when {{ radius_earth }} < 1.25 then 'earth_size'
        when {{ radius_earth }} < 2.0 then 'super_earth'
        when {{ radius_earth }} < 4.0 then 'sub_neptune'
        when {{ radius_earth }} < 6.0 then 'neptune'
        when {{ radius_earth }} <= 15.0 then 'giant'
        when {{ radius_earth }} > 15.0 then 'very_large'
    end
{%- endmacro %}


{% macro hz_teff_offset_k(teff_k) -%}
    {#- t = Teff - 5780 K with Teff clamped to the Kopparapu et al. 2013 fit (2600-7200 K).
        Explicit NULL: greatest()/least() skip NULLs and would turn a missing Teff into 2600 K. -#}
    case
        when {{ teff_k }} is not null
            then least(greatest({{ teff_k }}, 2600.0), 7200.0) - 5780.0
    end
{%- endmacro %}


{% macro hz_inner_flux_earth(teff_offset_k) -%}
    {#- Conservative HZ inner edge (moist greenhouse) [Earth flux], Kopparapu et al. 2013
        (erratum coefficients): S_eff = S_sun + a t + b t^2 + c t^3 + d t^4. -#}
    1.0146
        + 8.1884e-5 * {{ teff_offset_k }}
        + 1.9394e-9 * power({{ teff_offset_k }}, 2)
        - 4.3618e-12 * power({{ teff_offset_k }}, 3)
        - 6.8260e-16 * power({{ teff_offset_k }}, 4)
{%- endmacro %}


{% macro hz_outer_flux_earth(teff_offset_k) -%}
    {#- Conservative HZ outer edge (maximum greenhouse) [Earth flux], Kopparapu et al. 2013. -#}
    0.3507
        + 5.9578e-5 * {{ teff_offset_k }}
        + 1.6707e-9 * power({{ teff_offset_k }}, 2)
        - 3.0058e-12 * power({{ teff_offset_k }}, 3)
        - 5.1925e-16 * power({{ teff_offset_k }}, 4)
{%- endmacro %}
