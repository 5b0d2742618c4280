"""What the file kinds (``csv``, ``xlsx``) share: a table in a file in a folder, written by key and replaced atomically.

A kind keeps only what its format needs (parsing and formatting cells); the folder, the streams' files,
folding a batch of writes into one change per key, and the atomic replace with its lock live here.
"""
