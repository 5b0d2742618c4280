"""The ``csv`` connector: a folder of CSV files."""
