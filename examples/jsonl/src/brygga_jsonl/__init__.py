"""An example connector kind for Brygga: a folder of JSON Lines files (``jsonl``)."""
