-- System multiplicity per TOI, with the KOIs' computation (macros/transit_signals.sql): how
-- many TOIs share the TIC star, this TOI's place by orbital period (ties by toi), and how its
-- period relates to its neighbours'. Counts every TOI of the star in the batch, whatever its
-- disposition (no label leaks in). The count keeps the KOI mart's name, n_kois_on_star ("signals
-- of this survey's table on the star"), so one model reads both marts.

with

tois as (

    select * from {{ ref('stg_tess__toi') }}

),

{{ ranked_on_star_ctes('tois', 'toi', 'tic_id') }}

select * from final
