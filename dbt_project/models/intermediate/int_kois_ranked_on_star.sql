-- System multiplicity: how many KOIs share the star, this KOI's place by orbital period, and how
-- its period relates to its neighbours' (a ratio near 1 or a small integer hints at an eclipsing
-- binary's primary/secondary or a harmonic, rather than a second planet).
-- Counts every KOI of the star in the batch, whatever its disposition (no label leaks in).
-- The computation is shared with the TOIs (macros/transit_signals.sql).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

{{ ranked_on_star_ctes('kois', 'kepoi_name', 'kepid') }}

select * from final
