"""Cases for issue #19's rules on identities and paths to public exposure: static AWS
access keys and GCP service account keys, public Lambda function URLs, KMS key policies
open to every principal, public GCS bucket grants and public IPs on EC2 and Compute
instances. test_rules.py adds them to its table (like relational_cases.py)."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.cases import resource
from tests.policies.relational_cases import RelationalCase

ACCOUNT_ROOT = {"AWS": "arn:aws:iam::111122223333:root"}


def key_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


ADMIN = {"Sid": "Admin", "Effect": "Allow", "Principal": ACCOUNT_ROOT, "Action": "kms:*", "Resource": "*"}
# "*" held in by a condition: any principal, but only of this account and through S3.
VIA_S3 = {
    "Sid": "ViaS3",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    },
}
# Denying everyone is no exposure.
DENY_ALL = {"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}
GCE_NIC = {"network": "vpc", "subnetwork": "private"}

EXPOSURE_CASES = [
    RelationalCase(
        "aws-iam-no-static-access-keys",
        # Any other IAM resource is not judged: there is no compliant access key.
        [resource("aws:iam/role:Role", {"name": "ci-deployer"})],
        [resource("aws:iam/accessKey:AccessKey", {"user": "ci-deployer"})],
        ["a static access key for IAM user ci-deployer"],
    ),
    RelationalCase(
        "gcp-no-service-account-keys",
        [resource("gcp:serviceaccount/account:Account", {"accountId": "ci-deployer"})],
        [resource("gcp:serviceaccount/key:Key", {"serviceAccountId": "ci-deployer@p.iam.gserviceaccount.com"})],
        ["a service account key (long-lived credentials)"],
    ),
    RelationalCase(
        "aws-lambda-function-url-auth",
        [resource("aws:lambda/functionUrl:FunctionUrl", {"functionName": "api", "authorizationType": "AWS_IAM"})],
        [resource("aws:lambda/functionUrl:FunctionUrl", {"functionName": "api", "authorizationType": "NONE"})],
        ["the function URL is public (authorizationType NONE)"],
    ),
    RelationalCase(
        "aws-kms-key-policy-not-public",
        [
            resource("aws:kms/key:Key", {"enableKeyRotation": True}, "default-policy"),
            resource("aws:kms/key:Key", key_policy(ADMIN, VIA_S3, DENY_ALL), "key"),
            resource("aws:kms/keyPolicy:KeyPolicy", {"keyId": "k", **key_policy(ADMIN, VIA_S3)}, "policy"),
        ],
        [
            resource("aws:kms/key:Key", key_policy(ADMIN, {**VIA_S3, "Condition": {}}), "key"),
            resource(
                "aws:kms/keyPolicy:KeyPolicy",
                {
                    "keyId": "k",
                    **key_policy(
                        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
                        {"Effect": "Allow", "Principal": {"AWS": [ACCOUNT_ROOT["AWS"], "*"]}, "Action": "kms:*"},
                    ),
                },
                "policy",
            ),
        ],
        [
            "statement ViaS3 allows every principal ('*') without a Condition",
            "statement 0 allows every principal ('*') without a Condition",
            "statement 1 allows every principal ('*') without a Condition",
        ],
    ),
    RelationalCase(
        "gcp-storage-not-public",
        [
            resource(
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                {
                    "bucket": "assets",
                    "role": "roles/storage.objectViewer",
                    "member": "serviceAccount:cdn@p.iam.gserviceaccount.com",
                },
                "member",
            ),
            resource(
                "gcp:storage/bucketIAMBinding:BucketIAMBinding",
                {"bucket": "assets", "role": "roles/storage.objectViewer", "members": ["group:ai@project-ai.dev"]},
                "binding",
            ),
        ],
        [
            resource(
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                {"bucket": "assets", "role": "roles/storage.objectViewer", "member": "allUsers"},
                "member",
            ),
            resource(
                "gcp:storage/bucketIAMBinding:BucketIAMBinding",
                {
                    "bucket": "assets",
                    "role": "roles/storage.legacyBucketReader",
                    "members": ["group:ai@project-ai.dev", "allAuthenticatedUsers"],
                },
                "binding",
            ),
        ],
        [
            "allUsers is granted roles/storage.objectViewer",
            "allAuthenticatedUsers is granted roles/storage.legacyBucketReader",
        ],
    ),
    RelationalCase(
        "aws-ec2-no-public-ip",
        [
            resource(
                "aws:ec2/instance:Instance", {"instanceType": "t3.medium", "associatePublicIpAddress": False}, "a"
            ),
            resource("aws:ec2/instance:Instance", {"instanceType": "t3.medium"}, "b"),
        ],
        [resource("aws:ec2/instance:Instance", {"instanceType": "t3.medium", "associatePublicIpAddress": True})],
        ["associatePublicIpAddress is true"],
    ),
    RelationalCase(
        "gcp-compute-no-public-ip",
        [
            resource("gcp:compute/instance:Instance", {"networkInterfaces": [GCE_NIC]}, "a"),
            resource("gcp:compute/instance:Instance", {"networkInterfaces": [{**GCE_NIC, "accessConfigs": []}]}, "b"),
        ],
        [
            resource(
                "gcp:compute/instance:Instance",
                {"networkInterfaces": [GCE_NIC, {**GCE_NIC, "accessConfigs": [{"networkTier": "PREMIUM"}]}]},
            ),
            # Every instance a template creates would have one.
            resource(
                "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
                {"networkInterfaces": [{**GCE_NIC, "accessConfigs": [{}]}]},
                "template",
            ),
        ],
        [
            "network interface 1 has an access config (an external IP)",
            "network interface 0 has an access config (an external IP)",
        ],
    ),
]
