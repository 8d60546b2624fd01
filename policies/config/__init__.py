"""The packs' settings: a file per environment, what each stack's configuration implies,
and optional per-stack overrides (`effective.py`); `python -m policies.config` writes a
stack's settings for `pulumi preview --policy-pack-config`."""
