"""GCP building blocks of a regional platform: network, GKE, Cloud SQL, Memorystore,
Artifact Registry, KMS and a budget, written with pulumi_gcp resources."""
