-- The feature table must not carry the answer: no vetting output (koi_score, koi_pdisposition,
-- koi_fpflag_*), no kepler_name, no TCE delivery, no raw disposition beside label_disposition.
-- Returns every offending column of the built table.

select column_name
from information_schema.columns
where
    table_schema = '{{ ref("fct_koi_features").schema }}'
    and table_name = '{{ ref("fct_koi_features").identifier }}'
    and (
        column_name in (
            'koi_score',
            'koi_pdisposition',
            'koi_disposition',
            'kepler_name',
            'koi_tce_delivname',
            'tce_delivery_name',
            'loc_rowid'
        )
        or column_name like '%fpflag%'
        or column_name like '%score%'
        or column_name like '%pdisposition%'
        or column_name like '%delivname%'
        or column_name like '%delivery%'
    )
