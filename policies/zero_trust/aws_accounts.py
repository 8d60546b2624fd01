"""Zero-trust rules for AWS identities: the account's password policy, IAM users (no
console passwords, no policies of their own), AWS-managed policies too broad to attach,
and instances that get their AWS access from a role."""

from __future__ import annotations

import re
from collections.abc import Iterable

from policies.core.props import as_list, get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import INSTANCE, LAUNCH_TEMPLATE, known

PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
ROLE = "aws:iam/role:Role"
LOGIN_PROFILE = "aws:iam/userLoginProfile:UserLoginProfile"
CHARACTER_CLASSES = ("requireLowercaseCharacters", "requireUppercaseCharacters", "requireNumbers", "requireSymbols")


class PasswordPolicyParams(Params):
    min_length: int = 14
    # How many previous passwords may not be used again (AWS allows at most 24).
    min_reuse_prevention: int = 24
    # Days a password lasts at most; 0 does not require expiry.
    max_age_days: int = 90


@rule(
    PACK,
    name="aws-iam-password-policy",
    description=(
        "A declared account password policy asks for minLength (14) characters of all four classes, forbids "
        "reusing the last minReusePrevention (24) passwords and expires them within maxAgeDays (90)."
    ),
    severity="medium",
    remediation=(
        "Set minimumPasswordLength >= 14, passwordReusePrevention 24, requireLowercaseCharacters, "
        "requireUppercaseCharacters, requireNumbers and requireSymbols true, and maxPasswordAge <= 90."
    ),
    types=(PASSWORD_POLICY,),
    params=PasswordPolicyParams,
)
def iam_password_policy(resource: Resource, params: PasswordPolicyParams) -> Iterable[str]:
    length = get(resource.props, "minimumPasswordLength", 6)  # AWS's default when unset
    if length < params.min_length:
        yield f"minimumPasswordLength is {length}, expected at least {params.min_length}"
    reuse = get(resource.props, "passwordReusePrevention", 0)
    if reuse < params.min_reuse_prevention:
        yield f"passwordReusePrevention is {reuse or 'unset'}, expected at least {params.min_reuse_prevention}"
    off = [key for key in CHARACTER_CLASSES if get(resource.props, key) is not True]
    if off:
        yield f"{', '.join(off)} not true"
    age = get(resource.props, "maxPasswordAge", 0)
    if params.max_age_days and not 0 < age <= params.max_age_days:
        yield f"maxPasswordAge is {age or 'unset (never expires)'}, expected at most {params.max_age_days} days"


@rule(
    PACK,
    name="aws-iam-no-user-policies",
    description="No policy is attached to an IAM user directly (inline or managed): users get permissions from groups.",
    severity="medium",
    remediation=(
        "Attach the policy to an IAM group (GroupPolicy, GroupPolicyAttachment) and add the user to it, or "
        "better, give people IAM Identity Center permission sets and workloads roles."
    ),
    types=(USER_POLICY, USER_POLICY_ATTACHMENT, POLICY_ATTACHMENT),
)
def iam_no_user_policies(resource: Resource, params: Params) -> Iterable[str]:
    if resource.type == POLICY_ATTACHMENT:
        users = as_list(get(resource.props, "users"))
        if users:
            yield f"the policy is attached to {len(users)} IAM user(s) directly"
        return
    user = known(resource.props, "user") or "(unknown)"
    kind = "an inline policy" if resource.type == USER_POLICY else "a managed policy"
    yield f"{kind} is attached to IAM user {user} directly"


@rule(
    PACK,
    name="aws-iam-no-console-passwords",
    description="No IAM user gets a console password: people sign in through IAM Identity Center (SSO).",
    severity="medium",
    remediation=(
        "Delete the aws.iam.UserLoginProfile; give people access through IAM Identity Center (with MFA), "
        "or, where an IAM user must sign in, enforce MFA through an IAM policy condition (aws:MultiFactorAuthPresent)."
    ),
    types=(LOGIN_PROFILE,),
)
def iam_no_console_passwords(resource: Resource, params: Params) -> Iterable[str]:
    user = known(resource.props, "user")
    yield f"IAM user {user or '(unknown)'} gets a console password (UserLoginProfile)"


class ManagedPolicyParams(Params):
    # AWS-managed policies (by name) never attached: full administrator, full IAM, CloudShell.
    forbidden_policies: tuple[str, ...] = ("AdministratorAccess", "IAMFullAccess", "AWSCloudShellFullAccess")


def _forbidden(arn: object, params: ManagedPolicyParams) -> str | None:
    """The forbidden AWS-managed policy an ARN names (in any partition, under any path)."""
    match = re.fullmatch(r"arn:[\w-]+:iam::aws:policy/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", str(arn).strip())
    wanted = {name.lower(): name for name in params.forbidden_policies}
    return wanted.get(match.group(1).lower()) if match else None


@rule(
    PACK,
    name="aws-iam-no-broad-managed-policies",
    description=(
        "No role, user or group is given a forbidden AWS-managed policy (forbiddenPolicies: AdministratorAccess, "
        "IAMFullAccess, AWSCloudShellFullAccess), through a policy attachment or a role's managedPolicyArns."
    ),
    severity="high",
    remediation=(
        "Attach a customer-managed policy with the actions and resources the principal needs; keep "
        "administrator access to break-glass Identity Center permission sets."
    ),
    types=(ROLE_POLICY_ATTACHMENT, USER_POLICY_ATTACHMENT, GROUP_POLICY_ATTACHMENT, POLICY_ATTACHMENT, ROLE),
    params=ManagedPolicyParams,
)
def iam_no_broad_managed_policies(resource: Resource, params: ManagedPolicyParams) -> Iterable[str]:
    arns = as_list(get(resource.props, "managedPolicyArns")) if resource.type == ROLE else []
    for arn in [get(resource.props, "policyArn"), *arns]:
        if name := _forbidden(arn, params):
            yield f"the AWS-managed policy {name} is attached ({arn})"


def _template_gives_role(stack: Stack, instance: Resource) -> bool:
    """An instance launched from a template takes the template's profile; a template not in
    the stack is given the benefit of the doubt."""
    if not get(instance.props, "launchTemplate"):
        return False
    templates = [t for t in stack.of_type(LAUNCH_TEMPLATE) if t.urn in instance.dependencies]
    return len(templates) != 1 or bool(get(templates[0].props, "iamInstanceProfile"))


@rule(
    PACK,
    name="aws-ec2-instance-profile",
    description=(
        "EC2 instances get their AWS access from an IAM role (iamInstanceProfile, on the instance or its "
        "launch template), never from keys stored on them."
    ),
    severity="medium",
    remediation="Create an aws.iam.InstanceProfile for a least-privilege role and set iamInstanceProfile to it.",
)
def ec2_instance_profile(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for instance in stack.of_type(INSTANCE):
        if not get(instance.props, "iamInstanceProfile") and not _template_gives_role(stack, instance):
            yield instance.urn, f"instance {instance.name} has no IAM instance profile (iamInstanceProfile)"
