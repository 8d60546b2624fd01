"""`ops janitor`: unused cloud resources found, priced and (with --apply) deleted.

Finds what costs money and serves nothing: in AWS unattached EBS volumes, unassociated
Elastic IPs, old snapshots, idle load balancers, long-stopped instances and ECR images
beyond their lifecycle, plus resources missing the cost-allocation tags (reported only);
in GCP unattached persistent disks and unused static addresses.

It deletes only with --apply, and only what carries the project's ownership tags
(part-of=project-ai, managed-by=pulumi, a team, an environment: components/labels.py
`cloud_tags`), has been idle at least the grace period, and is of the given environment.
Everything else is reported with the reason it is kept.
"""
