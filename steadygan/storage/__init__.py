"""Storage: atomic writes and the checkpoint format, below training, metrics and generation."""
