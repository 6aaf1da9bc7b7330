"""Source connectors, one module per system: extraction and parsing only, nothing else."""
