"""Storage adapter: SQLAlchemy 2 async. SQLite (WAL) by default, PostgreSQL possible."""
