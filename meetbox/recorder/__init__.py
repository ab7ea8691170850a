"""Recording with PyAV (remux on the live path, composite off it). Arrives with issue 6."""
