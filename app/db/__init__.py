"""Persistence: SQLAlchemy 2 models, the engine and the queries the API runs."""
