"""The ``webhook`` connector: a system that only sends webhooks."""
