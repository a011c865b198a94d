-- Ephemeris matches across TIC stars, with the KOIs' computation (macros/transit_signals.sql):
-- for each TOI, how significant its best period-and-epoch match with a TOI on a brighter (and on
-- a fainter) other star is. Reads periods, epochs and TESS magnitudes only, never a disposition.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

{{ ephemeris_matched_ctes('tois', 'toi', 'tic_id', 'transit_epoch_bjd', 'tess_magnitude') }}

select * from final
