-- The point of ExoHunter: the archive's CANDIDATE KOIs ranked by the champion's P(planet),
-- rank 1 = most likely a planet (ranked on planet_log_odds: a strict order where p_planet shows
-- 1.000 for many). Stored in rank order, so `select * from marts.fct_discoveries`
-- reads like a list.

with

predictions as (

    select * from {{ ref('fct_koi_predictions') }}

),

candidates as (

    select * from predictions

    where label_disposition = 'CANDIDATE'

),

final as (

    select

        ---------- rank and verdict
        candidate_rank,
        kepoi_name,
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
        kepid,
        stellar_teff_k,
        stellar_radius_solar,
        kepler_magnitude,
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

    from candidates

)

select * from final

order by candidate_rank
