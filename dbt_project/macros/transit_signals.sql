{#
    The transit-signal features shared by the Kepler (KOI) and TESS (TOI) models: the same
    physics, written once, so that a feature of one name means the same computation in
    fct_koi_features and fct_toi_features. Each macro emits CTEs that read a relation with the
    staging models' column names (orbital_period_days, transit_duration_hours, transit_depth_ppm,
    planet_radius_earth, stellar_logg_cgs, stellar_radius_solar); the calling model names its
    source CTE and key, and selects (and rounds) what it keeps in its own final CTE.
#}

{% macro transit_geometry_ctes(signals, key, impact_parameter='impact_parameter') -%}
    {#- CTEs inputs -> transit_shape -> orbits -> densities -> derived over `signals` (one row
        per `key`): transit geometry and stellar-density consistency (Seager & Mallen-Ornelas
        2003). `impact_parameter` is the column or expression of b; the TOI table has none, so
        its models pass 0 (a central transit: a/R* and the transit density become upper
        bounds). Unrounded; derived holds key, radius_ratio, stellar_density_catalogue_gcc,
        a_over_rstar_transit, stellar_density_transit_gcc, log10_density_ratio,
        a_over_rstar_kepler, expected_duration_hours, duration_ratio,
        planet_radius_consistency, is_grazing. -#}
inputs as (

    select
        {{ key }},
        orbital_period_days,
        orbital_period_days * 86400.0 as orbital_period_s,
        transit_duration_hours,
        {{ impact_parameter }} as impact_parameter,
        planet_radius_earth,
        stellar_radius_solar,
        power(10.0, stellar_logg_cgs) as surface_gravity_cgs,
        case
            when transit_depth_ppm >= 0 then sqrt(transit_depth_ppm / 1e6)
        end as radius_ratio,
        -- sin^2(pi T / P), only for 0 < T < P (T in hours, P in days)
        case
            when transit_duration_hours > 0
                and transit_duration_hours < orbital_period_days * 24.0
                then power(sin(pi() * transit_duration_hours / (orbital_period_days * 24.0)), 2)
        end as sin2_half_transit_phase,
        {{ stellar_density_catalogue_gcc('stellar_logg_cgs', 'stellar_radius_solar') }}
            as stellar_density_catalogue_gcc

    from {{ signals }}

),

transit_shape as (

    select
        *,
        -- numerator of (a/R*)^2 for a circular orbit; defined only when the chord exists
        case
            when impact_parameter <= 1.0 + radius_ratio
                and sin2_half_transit_phase > 0
                then power(1.0 + radius_ratio, 2)
                    - power(impact_parameter, 2) * (1.0 - sin2_half_transit_phase)
        end as a_over_rstar_sq_numerator,
        -- Kepler's third law with M* = g R*^2 / G:  a / R* = (g P^2 / (4 pi^2 R*))^(1/3)
        power(
            surface_gravity_cgs * power(orbital_period_s, 2)
            / (
                4.0 * power(pi(), 2)
                * nullif(stellar_radius_solar, 0) * {{ var('solar_radius_cm') }}
            ),
            1.0 / 3.0
        ) as a_over_rstar_kepler

    from inputs

),

orbits as (

    select
        *,
        case
            when a_over_rstar_sq_numerator > 0
                then sqrt(a_over_rstar_sq_numerator / sin2_half_transit_phase)
        end as a_over_rstar_transit

    from transit_shape

),

densities as (

    select
        *,
        -- rho* = 3 pi (a/R*)^3 / (G P^2)   [g cm^-3]
        3.0 * pi() * power(a_over_rstar_transit, 3)
            / ({{ var('gravitational_constant_cgs') }} * power(nullif(orbital_period_s, 0), 2))
            as stellar_density_transit_gcc,
        -- central transit of a point planet: T0 = (P / pi) arcsin(R* / a)   [hours]
        case
            when a_over_rstar_kepler >= 1
                then orbital_period_days * 24.0 / pi() * asin(1.0 / a_over_rstar_kepler)
        end as expected_duration_hours

    from orbits

),

derived as (

    select
        {{ key }},
        radius_ratio,
        stellar_density_catalogue_gcc,
        a_over_rstar_transit,
        stellar_density_transit_gcc,
        {{ safe_log10('stellar_density_transit_gcc / nullif(stellar_density_catalogue_gcc, 0)') }}
            as log10_density_ratio,
        a_over_rstar_kepler,
        expected_duration_hours,
        transit_duration_hours / nullif(expected_duration_hours, 0) as duration_ratio,
        planet_radius_earth
            / nullif(
                radius_ratio * stellar_radius_solar * {{ var('earth_radii_per_solar_radius') }}, 0
            ) as planet_radius_consistency,
        impact_parameter > 1.0 - radius_ratio as is_grazing

    from densities

)
{%- endmacro %}


{% macro ranked_on_star_ctes(signals, key, star_key) -%}
    {#- CTEs period_pairs -> neighbours -> final over `signals` (one row per `key`, hosted by
        `star_key`): how many signals of the survey's table share the star, this one's place by
        orbital period (ties by key), and its period relative to its neighbours'. Counts every
        signal of the star in the batch, whatever its disposition (no label leaks in). final
        holds key, star_key, n_kois_on_star, period_rank_on_star, nearest_period_ratio_on_star,
        period_ratio_integer_offset (the names of fct_koi_features, for both surveys). -#}
period_pairs as (

    select
        this.{{ key }},
        greatest(
            this.orbital_period_days / other.orbital_period_days,
            other.orbital_period_days / this.orbital_period_days
        ) as period_ratio

    from {{ signals }} as this
    inner join {{ signals }} as other
        on this.{{ star_key }} = other.{{ star_key }}
        and this.{{ key }} <> other.{{ key }}
    where this.orbital_period_days > 0
        and other.orbital_period_days > 0

),

neighbours as (

    select
        {{ key }},
        min(period_ratio) as nearest_period_ratio_on_star,
        -- distance of the closest period ratio (below 10.5) to an integer; 0.5 when none is
        coalesce(
            min(abs(period_ratio - round(period_ratio))) filter (where period_ratio < 10.5),
            0.5
        ) as period_ratio_integer_offset

    from period_pairs
    group by {{ key }}

),

final as (

    select
        {{ signals }}.{{ key }},
        {{ signals }}.{{ star_key }},
        cast(count(*) over (partition by {{ signals }}.{{ star_key }}) as integer) as n_kois_on_star,
        cast(
            row_number() over (
                partition by {{ signals }}.{{ star_key }}
                order by {{ signals }}.orbital_period_days, {{ signals }}.{{ key }}
            ) as integer
        ) as period_rank_on_star,
        {{ round_sig('neighbours.nearest_period_ratio_on_star') }} as nearest_period_ratio_on_star,
        {{ round_sig('neighbours.period_ratio_integer_offset') }} as period_ratio_integer_offset

    from {{ signals }}
    left join neighbours
        on {{ signals }}.{{ key }} = neighbours.{{ key }}

)
{%- endmacro %}


{% macro ephemeris_matched_ctes(signals, key, star_key, epoch, magnitude) -%}
    {#- CTEs candidates -> pairs -> matches -> final over `signals` (one row per `key`, hosted by
        `star_key`, with its transit `epoch` and the host's `magnitude`): how significant the best
        ephemeris match of this signal is with a signal on another, brighter star, and on another,
        fainter one. A contamination false positive has the period and epoch of a brighter
        star's signal (Coughlin et al. 2014). For a pair, the chance of a period this close is
        |P1 - P2| / P1, and of an epoch this close (offset wrapped to the half period) is
        2 |dT| / P1; their product times the number of other signals (Bonferroni: the best of
        that many comparisons) is the chance that the match is a coincidence, and the
        significance is -log10 of it, floored at 0 (nothing notable). Periods, epochs and
        magnitudes only: no disposition is read. Set-based: the pairs come from an equality
        join on period buckets of 0.1 % (and the neighbouring ones), not from every pair.
        final holds key, ephemeris_match_brighter_significance,
        ephemeris_match_fainter_significance (0 when no other star's signal is close). -#}
candidates as (

    select
        {{ key }},
        {{ star_key }},
        orbital_period_days as period_days,
        {{ epoch }} as epoch,
        {{ magnitude }} as magnitude,
        cast(floor(ln(orbital_period_days) / 0.001) as bigint) as period_bucket,
        count(*) over () - 1 as n_comparisons

    from {{ signals }}
    where orbital_period_days > 0
        and {{ epoch }} is not null

),

pairs as (

    select
        this.{{ key }},
        other.magnitude < this.magnitude as other_is_brighter,
        other.magnitude > this.magnitude as other_is_fainter,
        this.n_comparisons
        * greatest(abs(this.period_days - other.period_days) / this.period_days, 1e-12)
        -- the epoch offset wrapped into [0, P/2], as a share of P/2
        * greatest(
            2.0 * abs(
                (other.epoch - this.epoch + 0.5 * this.period_days)
                - this.period_days
                * floor((other.epoch - this.epoch + 0.5 * this.period_days) / this.period_days)
                - 0.5 * this.period_days
            ) / this.period_days,
            1e-12
        ) as chance_of_match

    from candidates as this
    cross join (values (-1), (0), (1)) as neighbour (bucket_offset)
    inner join candidates as other
        on other.period_bucket = this.period_bucket + neighbour.bucket_offset
        and other.{{ star_key }} <> this.{{ star_key }}

),

matches as (

    select
        {{ key }},
        max(-log(least(chance_of_match, 1.0))) filter (
            where other_is_brighter
        ) as brighter_significance,
        max(-log(least(chance_of_match, 1.0))) filter (
            where other_is_fainter
        ) as fainter_significance

    from pairs
    group by {{ key }}

),

final as (

    select
        {{ signals }}.{{ key }},
        {{ round_sig('coalesce(matches.brighter_significance, 0)') }}
            as ephemeris_match_brighter_significance,
        {{ round_sig('coalesce(matches.fainter_significance, 0)') }}
            as ephemeris_match_fainter_significance

    from {{ signals }}
    left join matches
        on {{ signals }}.{{ key }} = matches.{{ key }}

)
{%- endmacro %}
