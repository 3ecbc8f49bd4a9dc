"""Signal processing as pure functions (the layer under the transformers)."""
