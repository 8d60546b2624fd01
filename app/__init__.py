"""The Project-AI API: an inference gateway with health, limits, validation and metrics."""
