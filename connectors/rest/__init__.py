"""The ``rest`` connector: any JSON HTTP API, declared in YAML."""
