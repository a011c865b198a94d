with

source as (

    select * from {{ source('ml', 'koi_predictions') }}

),

renamed as (

    select

        ---------- ids
        model_version,
        load_batch_id,
        kepoi_name,

        ---------- probabilities
        p_planet,
        planet_log_odds,
        p_confirmed,
        p_candidate,
        p_false_positive,

        ---------- decisions
        predicted_class,
        candidate_rank,

        ---------- timestamps
        scored_at

    from source

)

select * from renamed
