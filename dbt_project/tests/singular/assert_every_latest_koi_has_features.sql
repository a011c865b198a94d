-- fct_koi_features holds exactly the KOIs of the latest successful batch: none dropped by a
-- join, none added. Returns the KOIs present on one side only.

with

kois as (

    select kepoi_name from {{ ref('stg_kepler__koi') }}

),

features as (

    select kepoi_name from {{ ref('fct_koi_features') }}

)

select
    coalesce(kois.kepoi_name, features.kepoi_name) as kepoi_name,
    case when kois.kepoi_name is null then 'extra in features' else 'missing from features' end
        as problem

from kois

full outer join features
    on kois.kepoi_name = features.kepoi_name

where kois.kepoi_name is null or features.kepoi_name is null
