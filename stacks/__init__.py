"""Stack configuration and one composition per stack role."""
