"""The scoring API and the light-curve upload app (FastAPI)."""
