"""Brygga's built-in connectors and the connector SDK (``connectors.base``)."""
