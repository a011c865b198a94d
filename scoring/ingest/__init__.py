"""NASA Exoplanet Archive exports into ``raw``: the format, the batches, the load paths."""
