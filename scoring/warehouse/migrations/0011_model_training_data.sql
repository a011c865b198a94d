-- A model need not be trained on a load batch: the light-curve CNN (task 'lightcurve_cnn') learns
-- from the shipped TFRecord views of Yu et al. 2019 (data/tess/astronet_views_yu2019/), which
-- no ingest loads into raw. Such a model names its training data in training_data (the folder
-- and the sha256 of its files) instead; every model names one or the other.
alter table ml.model_registry
    alter column training_load_batch_id drop not null,
    add column training_data text,
    add constraint model_registry_training_source_check
        check (training_load_batch_id is not null or training_data is not null);

comment on column ml.model_registry.training_data is
    'Training data that is not a load batch: the shipped files and their checksum (NULL: see training_load_batch_id)';
