"""Brygga: keeps business systems in sync, so nobody copies data by hand."""

__version__ = "0.1.0"
