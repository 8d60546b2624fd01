"""Zero-trust rules for AWS resource policies and ACLs that open a resource to anyone:
S3 bucket ACLs and policies; SQS, SNS, ECR and Secrets Manager policies; Lambda
permissions. A statement for every principal is public unless a condition ties it to
known callers (an account, an organization, a network, a source resource)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from policies.core.props import as_list, get, items, json_document
from policies.core.rule import Params, Resource, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import BUCKET_ACLS, BUCKET_POLICY, BUCKETS, _internet_wide, every_principal

# Global condition keys that name who may call, or from where (lower case: keys are
# case-insensitive).
SCOPING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:userid",
    }
)
# Canned ACLs that grant to AllUsers or AuthenticatedUsers (any AWS account).
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GROUPS = ("/global/AllUsers", "/global/AuthenticatedUsers")


def _scoping(operator: str, values: Any) -> bool:
    """Whether one condition narrows who may call. Negated operators (StringNotEquals,
    NotIpAddress), ...IfExists and ForAllValues: (both pass when the key is absent), Null,
    and wildcard or internet-wide values narrow nothing."""
    base = operator.split(":")[-1].lower()
    vacuous = operator.lower().startswith("forallvalues:") or base.endswith("ifexists")
    if vacuous or "not" in base or base == "null":
        return False
    values = [str(v).strip() for v in as_list(values)]
    return bool(values) and not any(v.strip("*?") == "" or _internet_wide(v) for v in values)


def _scoped(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    return any(
        key.lower() in SCOPING_KEYS and _scoping(operator, values)
        for operator, block in condition.items()
        if isinstance(block, Mapping)
        for key, values in block.items()
    )


def public_statements(policy: Any) -> Iterator[str]:
    """The Allow statements of a policy document (text or object) open to every principal
    (Principal "*", or NotPrincipal: all but some) with no condition naming the callers."""
    document = json_document(policy)
    for index, statement in enumerate(as_list(get(document, "Statement"))):
        if not isinstance(statement, Mapping) or get(statement, "Effect") != "Allow":
            continue
        anyone = every_principal(get(statement, "Principal")) or get(statement, "NotPrincipal") is not None
        if anyone and not _scoped(get(statement, "Condition")):
            yield (
                f"policy statement {get(statement, 'Sid') or index} allows every principal with no condition "
                "on the caller's account, organization, network or source"
            )


def _public_grants(grants: list[Any], grantee: str) -> Iterator[str]:
    for grant in grants:
        uri = str(get(grant, f"{grantee}uri", ""))
        group = next((g.rsplit("/", 1)[-1] for g in PUBLIC_GROUPS if uri.endswith(g)), None)
        if group:
            permissions = as_list(get(grant, "permissions")) or as_list(get(grant, "permission"))
            yield f"a grant gives {', '.join(str(p) for p in permissions) or 'access'} to {group}"


@rule(
    PACK,
    name="aws-s3-not-public",
    description=(
        "No S3 bucket is opened by an ACL (public-read, public-read-write, authenticated-read, grants to AllUsers "
        "or AuthenticatedUsers) or by a bucket policy allowing every principal without a condition on the caller."
    ),
    severity="critical",
    remediation=(
        "Drop the public ACL and grants (keep acl private, object ownership BucketOwnerEnforced); in bucket "
        "policies name the principals, or serve through CloudFront with Origin Access Control "
        "(Principal cloudfront.amazonaws.com, Condition aws:SourceArn)."
    ),
    types=(*BUCKETS, *BUCKET_ACLS, BUCKET_POLICY),
)
def s3_not_public(resource: Resource, params: Params) -> Iterable[str]:
    acl = str(get(resource.props, "acl", "")).lower()
    if acl in PUBLIC_ACLS:
        yield f"acl {acl} opens the bucket to {'any AWS account' if acl.startswith('auth') else 'everyone'}"
    yield from _public_grants(items(resource.props, "grants"), "")
    yield from _public_grants(items(resource.props, "accessControlPolicy.grants"), "grantee.")
    yield from public_statements(get(resource.props, "policy"))


QUEUE, QUEUE_POLICY = "aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy"
TOPIC, TOPIC_POLICY = "aws:sns/topic:Topic", "aws:sns/topicPolicy:TopicPolicy"
ECR_POLICIES = ("aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:ecr/registryPolicy:RegistryPolicy")
SECRET, SECRET_POLICY = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretPolicy:SecretPolicy"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
LAYER_PERMISSION = "aws:lambda/layerVersionPermission:LayerVersionPermission"


@rule(
    PACK,
    name="aws-resource-policy-not-public",
    description=(
        "No SQS queue, SNS topic, ECR repository or registry, or Secrets Manager secret policy allows every "
        "principal without a condition on the caller; no Lambda permission lets '*' invoke a function without "
        "a source account, ARN or organization, or shares a layer with every account."
    ),
    severity="critical",
    remediation=(
        "Name the principals (accounts, roles, service principals); with '*', add a Condition on aws:SourceArn, "
        "aws:SourceAccount or aws:PrincipalOrgID; for Lambda set sourceArn/sourceAccount/principalOrgId, and "
        "organizationId on layer permissions."
    ),
    types=(
        QUEUE,
        QUEUE_POLICY,
        TOPIC,
        TOPIC_POLICY,
        *ECR_POLICIES,
        SECRET,
        SECRET_POLICY,
        LAMBDA_PERMISSION,
        LAYER_PERMISSION,
    ),
)
def resource_policy_not_public(resource: Resource, params: Params) -> Iterable[str]:
    if resource.type == LAMBDA_PERMISSION:
        if not every_principal(get(resource.props, "principal")):
            return
        if str(get(resource.props, "functionUrlAuthType", "")).upper() == "NONE":
            yield "principal '*' may invoke the function URL without authentication (functionUrlAuthType NONE)"
        elif not any(get(resource.props, key) for key in ("sourceArn", "sourceAccount", "principalOrgId")):
            yield "principal '*' may invoke the function: no sourceArn, sourceAccount or principalOrgId"
    elif resource.type == LAYER_PERMISSION:
        if every_principal(get(resource.props, "principal")) and not get(resource.props, "organizationId"):
            yield "the layer is shared with every AWS account (principal '*', no organizationId)"
    else:
        yield from public_statements(get(resource.props, "policy"))
