"""preflight: proves a Pulumi Python program offline, with no CLI and no cloud."""
