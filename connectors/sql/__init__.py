"""The ``sql`` connector: SQLite, PostgreSQL and MariaDB/MySQL through SQLAlchemy URLs."""
