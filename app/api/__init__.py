"""Routers: health, operations, and one per API version."""
