"""The anomaly lenses over the KOI table: the PyOD ensemble and the Bayesian outlier model."""
