with

source as (

    select * from {{ source('ml', 'toi_predictions') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        load_batch_id,
        toi,
        tic_id,

        ---------- probability and ranking score
        p_planet,
        planet_log_odds,

        ---------- decision
        candidate_rank,

        ---------- timestamps
        scored_at

    from source

)

select * from renamed
