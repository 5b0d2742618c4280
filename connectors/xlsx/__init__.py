"""The ``xlsx`` connector: Excel workbooks in a folder, one sheet per stream."""
