"""The service mesh: Istio's workload certificates from Vault (certificates.py)."""

from components.mesh.certificates import MeshCertificates, MeshCertificatesArgs, VaultIssuerArgs

__all__ = ["MeshCertificates", "MeshCertificatesArgs", "VaultIssuerArgs"]
from components.mesh.istio import IstioMesh, IstioMeshArgs, KialiArgs, TracingArgs, Upstream
from components.mesh.traffic import MeshPolicies, MeshPoliciesArgs

__all__ += ["IstioMesh", "IstioMeshArgs", "KialiArgs", "MeshPolicies", "MeshPoliciesArgs", "TracingArgs", "Upstream"]
