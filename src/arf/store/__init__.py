"""Persistence behind the `Store` port: SQLite by default, same schema for PostgreSQL."""
