"""Pure ASGI middleware: no per-request task or body copy beyond what each one needs."""
