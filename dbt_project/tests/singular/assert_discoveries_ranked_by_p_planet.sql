-- fct_discoveries ranks, within each mission, every CANDIDATE KOI of fct_koi_predictions
-- (Kepler) and every PC of fct_toi_predictions (TESS), 1..n without gaps, and a better rank
-- never has a lower P(planet). Returns the offending rows.

with

discoveries as (

    select
        mission,
        candidate_rank,
        signal_name,
        p_planet,
        row_number() over (partition by mission order by candidate_rank) as expected_rank,
        lag(p_planet) over (partition by mission order by candidate_rank)
            as p_planet_of_previous_rank

    from {{ ref('fct_discoveries') }}

),

candidates as (

    select
        'Kepler' as mission,
        count(*) as n_candidates

    from {{ ref('fct_koi_predictions') }}

    where label_disposition = 'CANDIDATE'

    union all

    select
        'TESS' as mission,
        count(*) as n_candidates

    from {{ ref('fct_toi_predictions') }}

    where label_disposition = 'PC'

),

listed as (

    select
        mission,
        count(*) as n_listed

    from discoveries

    group by mission

)

select
    discoveries.mission,
    discoveries.candidate_rank,
    discoveries.signal_name,
    'rank gap or duplicate' as problem

from discoveries

where discoveries.candidate_rank != discoveries.expected_rank

union all

select
    discoveries.mission,
    discoveries.candidate_rank,
    discoveries.signal_name,
    'P(planet) above the previous rank' as problem

from discoveries

where discoveries.p_planet > discoveries.p_planet_of_previous_rank

union all

select
    candidates.mission,
    null as candidate_rank,
    null as signal_name,
    'candidates missing from fct_discoveries' as problem

from candidates

left join listed
    on candidates.mission = listed.mission

where candidates.n_candidates != coalesce(listed.n_listed, 0)
