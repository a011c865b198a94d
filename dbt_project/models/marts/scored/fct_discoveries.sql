-- The point of ExoHunter: the open candidates of both missions ranked by their champion's
-- P(planet) — the archive's CANDIDATE KOIs (Kepler) and the TFOPWG planet candidates, PC, among
-- the TOIs (TESS). candidate_rank is the rank within the mission, 1 = most likely a planet
-- (ranked on planet_log_odds: a strict order where p_planet shows 1.000 for many); the two
-- missions' scores come from two models and are not ranked against each other. Written in
-- (mission, rank) order, Kepler first, so the KOI rows come as they did before the TOIs came in
-- (`order by mission, candidate_rank` guarantees it: PostgreSQL may place a row of a later
-- page in an earlier page's free space). Columns named for one
-- mission (kepoi_name, kepid, kepler_magnitude, the three-class view, top_reasons,
-- transit_model_snr) are NULL for the other; signal_name, host_star_id, host_magnitude and
-- n_signals_on_star are filled for both.

with

koi_predictions as (

    select * from {{ ref('fct_koi_predictions') }}

),

toi_predictions as (

    select * from {{ ref('fct_toi_predictions') }}

),

kepler_candidates as (

    select

        ---------- mission, rank, names
        'Kepler' as mission,
        candidate_rank,
        kepoi_name as signal_name,
        kepoi_name,
        cast(null as text) as toi,

        ---------- scores
        p_planet,
        planet_log_odds,
        top_reasons,

        ---------- planet
        radius_class,
        is_in_habitable_zone,
        orbital_period_days,
        planet_radius_earth,
        equilibrium_temp_k,
        insolation_earth_flux,

        ---------- star and signal
        kepid as host_star_id,
        kepid,
        cast(null as bigint) as tic_id,
        stellar_teff_k,
        stellar_radius_solar,
        kepler_magnitude as host_magnitude,
        kepler_magnitude,
        n_kois_on_star as n_signals_on_star,
        n_kois_on_star,
        transit_model_snr,
        ra_deg,
        dec_deg,

        ---------- three-class view
        p_confirmed,
        p_candidate,
        p_false_positive,
        predicted_class,

        ---------- provenance
        load_batch_id,
        snapshot_at,
        model_version,
        scored_at

    from koi_predictions

    where label_disposition = 'CANDIDATE'

),

tess_candidates as (

    select

        ---------- mission, rank, names
        'TESS' as mission,
        candidate_rank,
        'TOI-' || toi as signal_name,
        cast(null as text) as kepoi_name,
        toi,

        ---------- scores (the TOI classifier writes no explanations)
        p_planet,
        planet_log_odds,
        cast(null as text) as top_reasons,

        ---------- planet
        radius_class,
        is_in_habitable_zone,
        orbital_period_days,
        planet_radius_earth,
        equilibrium_temp_k,
        insolation_earth_flux,

        ---------- star and signal (the TOI table has no transit SNR)
        tic_id as host_star_id,
        cast(null as bigint) as kepid,
        tic_id,
        stellar_teff_k,
        stellar_radius_solar,
        tess_magnitude as host_magnitude,
        cast(null as double precision) as kepler_magnitude,
        n_tois_on_star as n_signals_on_star,
        cast(null as integer) as n_kois_on_star,
        cast(null as double precision) as transit_model_snr,
        ra_deg,
        dec_deg,

        ---------- three-class view (Kepler only)
        cast(null as double precision) as p_confirmed,
        cast(null as double precision) as p_candidate,
        cast(null as double precision) as p_false_positive,
        cast(null as text) as predicted_class,

        ---------- provenance
        load_batch_id,
        snapshot_at,
        model_version,
        scored_at

    from toi_predictions

    where label_disposition = 'PC'

),

candidates as (

    select * from kepler_candidates

    union all

    select * from tess_candidates

),

final as (

    select

        ---------- mission, rank and verdict
        mission,
        candidate_rank,
        signal_name,
        kepoi_name,
        toi,
        p_planet,
        planet_log_odds,
        case
            when p_planet >= 0.9 then 'very likely planet'
            when p_planet >= 0.7 then 'likely'
            when p_planet >= 0.3 then 'uncertain'
            else 'likely false positive'
        end as confidence_band,
        top_reasons,

        ---------- planet
        radius_class,
        is_in_habitable_zone,
        orbital_period_days,
        planet_radius_earth,
        equilibrium_temp_k,
        insolation_earth_flux,

        ---------- star and signal
        host_star_id,
        kepid,
        tic_id,
        stellar_teff_k,
        stellar_radius_solar,
        host_magnitude,
        kepler_magnitude,
        n_signals_on_star,
        n_kois_on_star,
        transit_model_snr,
        ra_deg,
        dec_deg,

        ---------- three-class view (Kepler only)
        p_confirmed,
        p_candidate,
        p_false_positive,
        predicted_class,

        ---------- provenance
        load_batch_id,
        snapshot_at,
        model_version,
        scored_at

    from candidates

)

select * from final

order by mission, candidate_rank
