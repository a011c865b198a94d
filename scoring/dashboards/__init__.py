"""Superset: its own virtualenv, the dashboards as code, a REST client."""
