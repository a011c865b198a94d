-- Ephemeris matches across stars: for each KOI, how significant its best period-and-epoch match
-- with a KOI on a brighter (and on a fainter) other star is. A contamination false positive
-- shows a brighter star's signal (Coughlin et al. 2014). Reads periods, epochs and magnitudes
-- only, never a disposition; the computation is shared with the TOIs
-- (macros/transit_signals.sql).

with

kois as (

    select * from {{ ref('stg_kepler__koi') }}

),

{{ ephemeris_matched_ctes('kois', 'kepoi_name', 'kepid', 'transit_epoch_bkjd', 'kepler_magnitude') }}

select * from final
