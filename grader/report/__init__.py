"""Reports built from the result JSONs only."""
