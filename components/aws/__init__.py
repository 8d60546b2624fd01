"""AWS building blocks of a regional platform, written with pulumi_aws resources (not
multi-language components, whose children neither the mocks nor the policy packs see)."""
