"""The AWS side of the janitor (boto3), one region at a time.

What counts as unused:
- EBS volumes in state `available` (attached to nothing), since their creation;
- Elastic IPs associated with nothing. AWS does not say when an address was allocated,
  so an applying run marks an owned one (`janitor-first-seen`, a tag) and it is deleted
  once the mark is older than the grace period;
- snapshots of this account older than `snapshot_age_days`, except the newest
  `keep_snapshots` of each volume and any a registered AMI of the account uses;
- application and network load balancers with no target group, or no healthy target;
- instances stopped (their StateTransitionReason's date) for longer than the grace period;
- ECR images: untagged ones, and tagged ones beyond the newest `keep_images` of a
  repository and older than `image_age_days` (the repository's tags say whose they are);
- and, reported only, volumes, addresses, instances, load balancers, snapshots and
  repositories missing any of the cost-allocation tags.

Calls carry the client's timeouts and standard retries (throttling included); what still
fails is said in one line: no credentials, no permission, a region the account cannot use.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ops.janitor import pricing
from ops.janitor.model import Finding, missing_cost_tags
from ops.steps import OpsError

# (service, region) -> a boto3 client (ops/dr/aurora.py `boto3_clients`; tests pass moto's).
Clients = Callable[[str, str], Any]

FIRST_SEEN = "janitor-first-seen"
_STOPPED_AT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
_REFUSED = {"AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId", "OptInRequired"}
# ELBv2 takes at most 20 ARNs per DescribeTags call.
_TAGS_PER_CALL = 20


@dataclass(frozen=True)
class AwsSettings:
    snapshot_age_days: int = 30
    keep_snapshots: int = 1
    image_age_days: int = 90
    keep_images: int = 10


def known_regions() -> list[str]:
    """Every region of the commercial partition botocore knows (offline, from its endpoints)."""
    import boto3

    return sorted(boto3.session.Session().get_available_regions("ec2"))


def _tags(pairs: Iterable[dict[str, Any]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {str(pair.get(key, "")): str(pair.get(value, "")) for pair in pairs or ()}


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def stopped_at(reason: str | None) -> datetime.datetime | None:
    """When an instance stopped, from `User initiated (2024-05-01 10:00:00 GMT)`; None if unsaid."""
    match = _STOPPED_AT.search(reason or "")
    if not match:
        return None
    try:
        return datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.UTC)
    except ValueError:  # a date that is none (month 13): unknown, so kept
        return None


def explain(error: Exception, what: str, region: str) -> OpsError:
    """One line for an AWS failure: what was asked, where, and what to do."""
    if isinstance(error, NoCredentialsError):
        return OpsError("no AWS credentials: set AWS_PROFILE (or --profile), or run `aws sso login` first")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in _THROTTLED:
            return OpsError(f"{what} in {region}: throttled by AWS even after retries ({code}); run again later")
        if code in _DENIED:
            return OpsError(f"{what} in {region}: permission denied ({code}): {message[:200]}")
        if code in _REFUSED:
            return OpsError(
                f"{what} in {region}: the credentials are refused there ({code}); is the region enabled for the "
                "account?"
            )
        return OpsError(f"{what} in {region}: {code}: {message[:200]}")
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError)):
        return OpsError(f"{what} in {region}: AWS did not answer in time ({type(error).__name__})")
    return OpsError(f"{what} in {region}: {type(error).__name__}: {error}")


class AwsJanitor:
    def __init__(
        self,
        clients: Clients,
        region: str,
        settings: AwsSettings,
        now: datetime.datetime,
        prices: pricing.Prices = pricing.NONE,
    ) -> None:
        self.region, self.settings, self.now, self.prices = region, settings, now, prices
        self._clients = clients
        # An instance's volumes: what a stopped instance still costs.
        self._instance_storage: dict[str, float] = defaultdict(float)

    def _client(self, service: str) -> Any:
        return self._clients(service, self.region)

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (BotoCoreError, ClientError) as error:
            raise explain(error, what, self.region) from error

    def _pages(self, service: str, operation: str, key: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            paginator = self._client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**arguments) for item in page.get(key, [])]

        yield from self._call(f"{service}:{operation}", read)

    def _finding(self, kind: str, id: str, reason: str, since: Any, tags: dict[str, str], **extra: Any) -> Finding:
        return Finding("aws", kind, id, self.region, reason, _utc(since) if since else None, tags, **extra)

    def _untagged(self, kind: str, id: str, tags: dict[str, str], since: Any = None) -> list[Finding]:
        missing = missing_cost_tags(tags)
        if not missing:
            return []
        reason = f"{kind} missing cost tags: {', '.join(missing)}"
        return [self._finding("untagged", id, reason, since, tags, report_only=True, name=kind)]

    # What each kind finds. Each returns its findings; `scan` runs them all.

    def volumes(self) -> list[Finding]:
        found = []
        for volume in self._pages("ec2", "describe_volumes", "Volumes"):
            tags, id, size = _tags(volume.get("Tags")), volume["VolumeId"], float(volume.get("Size", 0))
            unit = pricing.EBS_UNITS.get(volume.get("VolumeType", ""))
            monthly = self.prices.per_gib("aws", unit, size) if unit else None
            for attachment in volume.get("Attachments", []):
                self._instance_storage[attachment.get("InstanceId", "")] += monthly or 0.0
            if volume.get("State") == "available":
                reason = f"unattached EBS volume ({size:g} GiB {volume.get('VolumeType', '?')})"
                found.append(self._finding("volume", id, reason, volume.get("CreateTime"), tags, monthly_usd=monthly))
            else:
                found += self._untagged("volume", id, tags, volume.get("CreateTime"))
        return found

    def addresses(self) -> list[Finding]:
        found = []
        described = self._call("ec2:describe_addresses", lambda: self._client("ec2").describe_addresses())
        for address in described.get("Addresses", []):
            tags = _tags(address.get("Tags"))
            id = address.get("AllocationId") or address.get("PublicIp", "")
            if address.get("AssociationId") or address.get("InstanceId") or address.get("NetworkInterfaceId"):
                found += self._untagged("elastic-ip", id, tags)
                continue
            seen = tags.get(FIRST_SEEN)
            since = _parse_time(seen)
            reason = "unassociated Elastic IP " + address.get("PublicIp", "")
            if since is None:
                reason += " (AWS does not say since when: an applying run marks it, the grace period counts from then)"
            monthly = self.prices.hourly("aws", "publicIpv4Hour")
            found.append(self._finding("elastic-ip", id, reason, since, tags, monthly_usd=monthly))
        return found

    def snapshots(self) -> list[Finding]:
        images = self._pages("ec2", "describe_images", "Images", Owners=["self"])
        in_use = {
            mapping["Ebs"]["SnapshotId"]
            for image in images
            for mapping in image.get("BlockDeviceMappings", [])
            if mapping.get("Ebs", {}).get("SnapshotId")
        }
        by_volume: dict[str, list[dict[str, Any]]] = defaultdict(list)
        found = []
        for snapshot in self._pages("ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"]):
            by_volume[snapshot.get("VolumeId", "")].append(snapshot)
            found += self._untagged("snapshot", snapshot["SnapshotId"], _tags(snapshot.get("Tags")))
        oldest = self.now - datetime.timedelta(days=self.settings.snapshot_age_days)
        for volume, snapshots in by_volume.items():
            snapshots.sort(key=lambda snapshot: (_utc(snapshot["StartTime"]), snapshot["SnapshotId"]), reverse=True)
            for snapshot in snapshots[self.settings.keep_snapshots :]:
                started = _utc(snapshot["StartTime"])
                if snapshot["SnapshotId"] in in_use or started > oldest:
                    continue
                size = float(snapshot.get("VolumeSize", 0))
                reason = (
                    f"snapshot of {volume or 'an unknown volume'} older than {self.settings.snapshot_age_days} days, "
                    f"not among its newest {self.settings.keep_snapshots}, used by no AMI"
                )
                # A snapshot is incremental: its volume's size is an upper bound of what it bills.
                monthly = self.prices.per_gib("aws", "ebsSnapshotGbMonth", size)
                tags = _tags(snapshot.get("Tags"))
                found.append(
                    self._finding("snapshot", snapshot["SnapshotId"], reason, started, tags, monthly_usd=monthly)
                )
        return found

    def load_balancers(self) -> list[Finding]:
        elb = self._client("elbv2")
        balancers = list(self._pages("elbv2", "describe_load_balancers", "LoadBalancers"))
        arns = [balancer["LoadBalancerArn"] for balancer in balancers]
        tags: dict[str, dict[str, str]] = {}
        for start in range(0, len(arns), _TAGS_PER_CALL):
            chunk = arns[start : start + _TAGS_PER_CALL]
            described = self._call("elbv2:describe_tags", lambda chunk=chunk: elb.describe_tags(ResourceArns=chunk))
            for entry in described.get("TagDescriptions", []):
                tags[entry["ResourceArn"]] = _tags(entry.get("Tags"))
        found = []
        for balancer in balancers:
            arn, name = balancer["LoadBalancerArn"], balancer.get("LoadBalancerName")
            own = tags.get(arn, {})
            idle = self._idle(arn)
            if idle is None:
                found += self._untagged("load-balancer", arn, own, balancer.get("CreatedTime"))
                continue
            monthly = self.prices.hourly("aws", "loadBalancerHour")
            found.append(
                self._finding(
                    "load-balancer", arn, idle, balancer.get("CreatedTime"), own, monthly_usd=monthly, name=name
                )
            )
        return found

    def _idle(self, arn: str) -> str | None:
        """Why a load balancer serves nothing, or None where it has a healthy target."""
        try:
            groups = list(self._pages("elbv2", "describe_target_groups", "TargetGroups", LoadBalancerArn=arn))
        except OpsError as error:
            # Some endpoints answer "none found" for a balancer without groups, rather than an empty list.
            cause = error.__cause__
            if not (isinstance(cause, ClientError) and cause.response["Error"].get("Code") == "TargetGroupNotFound"):
                raise
            groups = []
        if not groups:
            return "load balancer with no target group"
        elb = self._client("elbv2")
        for group in groups:
            health = self._call(
                "elbv2:describe_target_health",
                lambda group=group: elb.describe_target_health(TargetGroupArn=group["TargetGroupArn"]),
            )
            states = [
                target.get("TargetHealth", {}).get("State") for target in health.get("TargetHealthDescriptions", [])
            ]
            if "healthy" in states:
                return None
        return f"load balancer with no healthy target in its {len(groups)} target group(s)"

    def instances(self) -> list[Finding]:
        found = []
        reservations = self._pages("ec2", "describe_instances", "Reservations")
        for instance in (instance for reservation in reservations for instance in reservation.get("Instances", [])):
            id, tags, state = instance["InstanceId"], _tags(instance.get("Tags")), instance.get("State", {}).get("Name")
            if state in ("terminated", "shutting-down"):
                continue
            if state != "stopped":
                found += self._untagged("instance", id, tags, instance.get("LaunchTime"))
                continue
            since = stopped_at(instance.get("StateTransitionReason"))
            reason = f"stopped {instance.get('InstanceType', '')} instance (its volumes still bill)"
            if since is None:
                reason += "; when it stopped is not recorded"
            monthly = self._instance_storage.get(id) if self.prices.table is not None else None
            found.append(self._finding("instance", id, reason, since, tags, monthly_usd=monthly))
        return found

    def images(self) -> list[Finding]:
        ecr = self._client("ecr")
        found = []
        for repository in self._pages("ecr", "describe_repositories", "repositories"):
            name, arn = repository["repositoryName"], repository["repositoryArn"]
            listed = self._call(
                "ecr:list_tags_for_resource", lambda arn=arn: ecr.list_tags_for_resource(resourceArn=arn)
            )
            tags = _tags(listed.get("tags"))
            found += self._untagged("ecr-repository", arn, tags, repository.get("createdAt"))
            images = list(self._pages("ecr", "describe_images", "imageDetails", repositoryName=name))
            found += self._stale_images(name, images, tags)
        return found

    def _stale_images(self, repository: str, images: list[dict[str, Any]], tags: dict[str, str]) -> list[Finding]:
        oldest = self.now - datetime.timedelta(days=self.settings.image_age_days)
        tagged = sorted(
            (image for image in images if image.get("imageTags")),
            key=lambda image: (_utc(image["imagePushedAt"]), image["imageDigest"]),
            reverse=True,
        )
        stale = [(image, "untagged image") for image in images if not image.get("imageTags")]
        stale += [
            (
                image,
                f"beyond the newest {self.settings.keep_images} tagged, older than {self.settings.image_age_days} days",
            )
            for image in tagged[self.settings.keep_images :]
            if _utc(image["imagePushedAt"]) <= oldest
        ]
        found = []
        for image, why in stale:
            size = float(image.get("imageSizeInBytes", 0)) / pricing.GIB
            monthly = self.prices.per_gib("aws", "ecrStorageGbMonth", size)
            shown = ",".join(image.get("imageTags", [])[:3]) or image["imageDigest"][:19]
            found.append(
                self._finding(
                    "ecr-image",
                    image["imageDigest"],
                    f"{repository}:{shown}: {why}",
                    image.get("imagePushedAt"),
                    tags,
                    monthly_usd=monthly,
                    location=repository,
                )
            )
        return found

    KINDS = ("volumes", "addresses", "snapshots", "load_balancers", "instances", "images")

    def scan(self) -> tuple[list[Finding], list[str]]:
        """Every kind's findings, and the kinds that could not be read (each said in one line).
        Missing credentials end the scan: every kind would say the same."""
        findings: list[Finding] = []
        errors: list[str] = []
        for kind in self.KINDS:
            try:
                findings += getattr(self, kind)()
            except OpsError as error:
                if isinstance(error.__cause__, NoCredentialsError):
                    raise
                errors.append(str(error))
        return findings, errors

    # Deleting one finding: raises OpsError saying what AWS answered.

    def delete(self, finding: Finding) -> str:
        ec2 = self._client("ec2")
        actions: dict[str, tuple[str, Callable[[], Any]]] = {
            "volume": ("ec2:DeleteVolume", lambda: ec2.delete_volume(VolumeId=finding.id)),
            "elastic-ip": ("ec2:ReleaseAddress", lambda: ec2.release_address(AllocationId=finding.id)),
            "snapshot": ("ec2:DeleteSnapshot", lambda: ec2.delete_snapshot(SnapshotId=finding.id)),
            "instance": ("ec2:TerminateInstances", lambda: ec2.terminate_instances(InstanceIds=[finding.id])),
            "load-balancer": (
                "elasticloadbalancing:DeleteLoadBalancer",
                lambda: self._client("elbv2").delete_load_balancer(LoadBalancerArn=finding.id),
            ),
            "ecr-image": ("ecr:BatchDeleteImage", lambda: self._delete_image(finding)),
        }
        if finding.kind not in actions:
            raise OpsError(f"the janitor does not delete a {finding.kind}")
        action, call = actions[finding.kind]
        self._call(action, call)
        return action

    def _delete_image(self, finding: Finding) -> None:
        answer = self._client("ecr").batch_delete_image(
            repositoryName=finding.location, imageIds=[{"imageDigest": finding.id}]
        )
        failures = answer.get("failures") or []
        if failures:
            failure = failures[0]
            raise OpsError(f"ecr:BatchDeleteImage: {failure.get('failureCode')}: {failure.get('failureReason')}")

    def mark(self, finding: Finding) -> None:
        """Start an unassociated address's grace period (an applying run only)."""
        stamp = self.now.isoformat(timespec="seconds")
        self._call(
            "ec2:CreateTags",
            lambda: self._client("ec2").create_tags(Resources=[finding.id], Tags=[{"Key": FIRST_SEEN, "Value": stamp}]),
        )


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return _utc(datetime.datetime.fromisoformat(text))
    except ValueError:
        return None
