"""The service mesh: Istio's workload certificates from Vault (certificates.py)."""

from components.mesh.certificates import MeshCertificates, MeshCertificatesArgs, VaultIssuerArgs

__all__ = ["MeshCertificates", "MeshCertificatesArgs", "VaultIssuerArgs"]
