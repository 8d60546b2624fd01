"""Vault: its configuration (mounts, auth, policies, database engine, audit), the OpenBao
dev server for local clusters, and the path from Vault to the pods (External Secrets,
Reloader, root-credential rotation)."""
