-- fct_discoveries ranks every CANDIDATE KOI of fct_koi_predictions, 1..n without gaps, and a
-- better rank never has a lower P(planet). Returns the offending rows.

with

discoveries as (

    select
        candidate_rank,
        kepoi_name,
        p_planet,
        row_number() over (order by candidate_rank) as expected_rank,
        lag(p_planet) over (order by candidate_rank) as p_planet_of_previous_rank

    from {{ ref('fct_discoveries') }}

),

candidates as (

    select count(*) as n_candidates
    from {{ ref('fct_koi_predictions') }}
    where label_disposition = 'CANDIDATE'

)

select
    discoveries.candidate_rank,
    discoveries.kepoi_name,
    'rank gap or duplicate' as problem

from discoveries

where discoveries.candidate_rank != discoveries.expected_rank

union all

select
    discoveries.candidate_rank,
    discoveries.kepoi_name,
    'P(planet) above the previous rank' as problem

from discoveries

where discoveries.p_planet > discoveries.p_planet_of_previous_rank

union all

select
    null as candidate_rank,
    null as kepoi_name,
    'candidates missing from fct_discoveries' as problem

from candidates

where candidates.n_candidates != (select count(*) from discoveries)
