"""ExoHunter: detect, classify and rank exoplanet signals in a PostgreSQL BI platform."""
