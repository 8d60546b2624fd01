"""Reusable ComponentResources, one folder per concern."""
