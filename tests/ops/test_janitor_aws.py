"""`ops janitor aws` against moto (mock_aws): each kind of waste and of use, the dry run,
the ownership rule and its bypass attempts, the grace period at its limit, the deletion
bound, failures, and the errors a user meets. Time is injected: no test waits."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from components.labels import Ownership, cloud_tags
from ops.cli import main
from ops.dr.aurora import boto3_clients
from ops.janitor import cli as janitor_cli
from ops.janitor import model, pricing
from ops.janitor.aws import FIRST_SEEN, AwsJanitor, AwsSettings, stopped_at
from ops.janitor.model import Finding, Rules, decide, ownership_problem
from ops.janitor.sweep import Report, sweep
from ops.steps import OpsError
from tests.ops.conftest import audit
from tests.ops.test_aurora import frozen_endpoint, stopped_endpoint

REGION = "us-east-1"
DAY = datetime.timedelta(days=1)
OWNED = cloud_tags(Ownership("ai-platform", "cc-ai-platform", "dev"), "project-ai")
SETTINGS = AwsSettings(snapshot_age_days=30, keep_snapshots=1, image_age_days=30, keep_images=1)


def moto_clients(service: str, region: str):
    return boto3.client(service, region_name=region)


def pairs(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def real_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class World:
    """A moto account in REGION and helpers to make waste and use in it."""

    def __init__(self) -> None:
        self.ec2 = moto_clients("ec2", REGION)
        self.elb = moto_clients("elbv2", REGION)
        self.ecr = moto_clients("ecr", REGION)
        # moto runs an instance from any AMI id (its default AMIs are not loaded: see `world`).
        self.ami = "ami-12345678"
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=f"{REGION}{zone}")[
                "Subnet"
            ]["SubnetId"]
            for index, zone in enumerate("ab")
        ]

    def volume(self, tags: dict[str, str] | None = None, size: int = 100) -> dict:
        spec = [{"ResourceType": "volume", "Tags": pairs(tags)}] if tags else []
        return self.ec2.create_volume(
            AvailabilityZone=f"{REGION}a", Size=size, VolumeType="gp3", TagSpecifications=spec
        )

    def instance(self, tags: dict[str, str] | None = None) -> str:
        spec = [{"ResourceType": "instance", "Tags": pairs(tags)}] if tags else []
        return self.ec2.run_instances(
            ImageId=self.ami, MinCount=1, MaxCount=1, InstanceType="t3.medium", TagSpecifications=spec
        )["Instances"][0]["InstanceId"]

    def address(self, tags: dict[str, str] | None = None) -> str:
        spec = [{"ResourceType": "elastic-ip", "Tags": pairs(tags)}] if tags else []
        return self.ec2.allocate_address(Domain="vpc", TagSpecifications=spec)["AllocationId"]

    def snapshot(self, volume: str, tags: dict[str, str] | None = None) -> str:
        spec = [{"ResourceType": "snapshot", "Tags": pairs(tags)}] if tags else []
        return self.ec2.create_snapshot(VolumeId=volume, TagSpecifications=spec)["SnapshotId"]

    def load_balancer(self, name: str, tags: dict[str, str] | None = None) -> str:
        return self.elb.create_load_balancer(Name=name, Subnets=self.subnets, Tags=pairs(tags or {}))["LoadBalancers"][
            0
        ]["LoadBalancerArn"]

    def target_group(self, balancer: str, name: str, instance: str | None) -> None:
        group = self.elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=self.vpc, TargetType="instance")
        arn = group["TargetGroups"][0]["TargetGroupArn"]
        listener = {"Type": "forward", "TargetGroupArn": arn}
        self.elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[listener])
        if instance:
            self.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance, "Port": 80}])

    def repository(self, name: str, tags: dict[str, str] | None = None) -> None:
        self.ecr.create_repository(repositoryName=name, tags=pairs(tags or {}))

    def image(self, repository: str, seed: str, tag: str | None) -> str:
        layer = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": layer, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"},
            "layers": [{"digest": layer, "size": 1, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}],
        }
        pushed = self.ecr.put_image(
            repositoryName=repository, imageManifest=json.dumps(manifest), **({"imageTag": tag} if tag else {})
        )
        return pushed["image"]["imageId"]["imageDigest"]

    def volume_ids(self) -> set[str]:
        return {volume["VolumeId"] for volume in self.ec2.describe_volumes()["Volumes"]}


@pytest.fixture
def world(monkeypatch):
    # Without moto's catalogue of public AMIs, and the 1,300 snapshots it says the account owns.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield World()


def janitor(now: datetime.datetime, settings: AwsSettings = SETTINGS) -> AwsJanitor:
    return AwsJanitor(moto_clients, REGION, settings, now, pricing.load())


def run(
    now: datetime.datetime,
    apply: bool,
    *,
    grace_days: int = 7,
    environment: str | None = None,
    max_deletions: int = 50,
    janitors=None,
) -> tuple[Report, list[dict]]:
    log = audit(dry_run=not apply)
    report = Report("aws", REGION, not apply, pricing.load())
    rules = Rules(datetime.timedelta(days=grace_days), environment)
    sweep(janitors or [janitor(now)], rules, now, apply, max_deletions, log, report)
    return report, log.lines


def verdict_of(report: Report, id: str):
    matches = [verdict for verdict in report.verdicts if verdict.finding.id == id]
    assert len(matches) == 1, f"{id}: {[v.finding.kind for v in matches]}"
    return matches[0]


# --- the ownership constants are the program's ---


def test_the_ownership_tags_are_the_programs():
    assert {key: OWNED[key] for key in model.OWNERSHIP} == model.OWNERSHIP
    assert set(model.COST_TAGS) == set(OWNED)


# --- finding ---


def test_each_kind_of_waste_is_found_and_each_kind_of_use_is_not(world):
    loose = world.volume(OWNED)["VolumeId"]
    running = world.instance(OWNED)
    used = world.volume(OWNED)["VolumeId"]
    world.ec2.attach_volume(VolumeId=used, InstanceId=running, Device="/dev/sdf")
    free_ip = world.address(OWNED)
    bound_ip = world.address(OWNED)
    world.ec2.associate_address(AllocationId=bound_ip, InstanceId=running)
    stopped = world.instance(OWNED)
    world.ec2.stop_instances(InstanceIds=[stopped])
    older, newest = world.snapshot(used, OWNED), world.snapshot(used, OWNED)
    idle = world.load_balancer("idle", OWNED)
    no_healthy = world.load_balancer("no-targets", OWNED)
    world.target_group(no_healthy, "empty", None)
    world.repository("project-ai/api", OWNED)
    untagged_image = world.image("project-ai/api", "a", None)
    world.image("project-ai/api", "b", "v1")

    report, _ = run(real_now() + 40 * DAY, apply=False)
    found = {(verdict.finding.kind, verdict.finding.id) for verdict in report.verdicts}

    assert ("volume", loose) in found and ("volume", used) not in found
    assert ("elastic-ip", free_ip) in found and ("elastic-ip", bound_ip) not in found
    assert ("instance", stopped) in found and ("instance", running) not in found
    # The newest of its volume is kept (by start time, then id: moto starts both in the same second).
    described = world.ec2.describe_snapshots(SnapshotIds=[older, newest])["Snapshots"]
    kept = max(described, key=lambda snapshot: (snapshot["StartTime"], snapshot["SnapshotId"]))["SnapshotId"]
    assert [id for kind, id in found if kind == "snapshot" and id in (older, newest)] == [
        ({older, newest} - {kept}).pop()
    ]
    assert ("load-balancer", idle) in found and ("load-balancer", no_healthy) in found
    assert ("ecr-image", untagged_image) in found
    assert not report.errors
    # Tagged in full: none is reported for its tags.
    assert not [v for v in report.verdicts if v.finding.kind == "untagged" and v.finding.id in {running, used}]
    # Priced from the table: 100 GiB of gp3, an address, a balancer.
    volume = verdict_of(report, loose).finding
    table = pricing.load().table
    assert volume.monthly_usd == pytest.approx(100 * table.unit("aws", "ebsGp3GbMonth"))
    assert verdict_of(report, idle).finding.monthly_usd == pytest.approx(
        table.unit("aws", "loadBalancerHour") * table.hours_per_month
    )
    assert report.totals()["monthlyUsd"] > 0


def test_a_snapshot_an_ami_uses_is_kept_however_old():
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    start = real_now() - 100 * DAY

    def snapshot(id: str, days: int) -> dict:
        return {"SnapshotId": id, "VolumeId": "vol-1", "StartTime": start + days * DAY, "VolumeSize": 8, "Tags": []}

    image = {
        "ImageId": "ami-1",
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-ami"}}],
    }
    with Stubber(ec2) as stub:
        stub.add_response("describe_images", {"Images": [image]}, {"Owners": ["self"]})
        snapshots = [snapshot("snap-ami", 0), snapshot("snap-unused", 1), snapshot("snap-newest", 2)]
        stub.add_response("describe_snapshots", {"Snapshots": snapshots}, {"OwnerIds": ["self"]})
        found = AwsJanitor(lambda service, region: ec2, REGION, SETTINGS, real_now()).snapshots()
    assert [finding.id for finding in found if finding.kind == "snapshot"] == ["snap-unused"]
    assert {finding.id for finding in found if finding.kind == "untagged"} == {"snap-ami", "snap-unused", "snap-newest"}


def test_a_load_balancer_with_a_healthy_target_is_in_use(world):
    running = world.instance(OWNED)
    serving = world.load_balancer("serving", OWNED)
    world.target_group(serving, "web", running)
    report, _ = run(real_now() + 40 * DAY, apply=False)
    assert not [verdict for verdict in report.verdicts if verdict.finding.id == serving]


def test_ecr_keeps_the_newest_images_and_finds_the_rest(world):
    world.repository("project-ai/api", OWNED)
    digests = [world.image("project-ai/api", seed, f"v{seed}") for seed in ("1", "2", "3")]
    settings = AwsSettings(image_age_days=30, keep_images=2)
    # Pushed within the same second: the newest two by (push time, digest).
    report, _ = run(real_now() + 40 * DAY, apply=False, janitors=[janitor(real_now() + 40 * DAY, settings)])
    stale = [verdict.finding.id for verdict in report.verdicts if verdict.finding.kind == "ecr-image"]
    assert len(stale) == 1 and stale[0] == sorted(digests)[0]
    # Younger than image_age_days: beyond the newest two, but kept.
    young, _ = run(real_now() + 10 * DAY, apply=False, janitors=[janitor(real_now() + 10 * DAY, settings)])
    assert not [verdict for verdict in young.verdicts if verdict.finding.kind == "ecr-image"]


def test_resources_missing_cost_tags_are_reported_only(world):
    partial = {key: value for key, value in OWNED.items() if key != "cost-center"}
    running = world.instance(partial)
    bare = world.volume(None)["VolumeId"]
    report, _ = run(real_now() + 40 * DAY, apply=True)
    untagged = verdict_of(report, running)
    assert untagged.finding.kind == "untagged" and "cost-center" in untagged.finding.reason
    assert not untagged.delete and "report only" in untagged.why
    # An unattached volume with no tags at all: waste, but not ours, so kept.
    volume = verdict_of(report, bare)
    assert volume.finding.kind == "volume" and not volume.delete and "not ours" in volume.why
    assert bare in world.volume_ids()
    assert world.ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]["State"]["Name"] == (
        "running"
    )


# --- the dry run and the ownership rule ---


def test_a_dry_run_deletes_nothing_and_says_what_it_would(world):
    volume = world.volume(OWNED)["VolumeId"]
    address = world.address(OWNED)
    report, lines = run(real_now() + 40 * DAY, apply=False)
    assert verdict_of(report, volume).delete
    assert volume in world.volume_ids()
    assert next(line for line in lines if line["detail"]["id"] == volume)["outcome"] == "would-apply"
    assert all(line["outcome"] == "would-apply" and line["dry_run"] for line in lines)
    # No mark either: the dry run changes no tag.
    tags = world.ec2.describe_addresses(AllocationIds=[address])["Addresses"][0].get("Tags", [])
    assert FIRST_SEEN not in {tag["Key"] for tag in tags}
    assert report.exit_code == 0 and not report.deleted


def test_apply_deletes_only_what_is_ours_old_and_of_the_environment(world):
    old = world.volume(OWNED)["VolumeId"]
    theirs = world.volume({**OWNED, "part-of": "another-project"})["VolumeId"]
    staging = world.volume({**OWNED, "environment": "staging"})["VolumeId"]
    unmanaged = world.volume({**OWNED, "managed-by": "terraform"})["VolumeId"]
    ownerless = world.volume({key: value for key, value in OWNED.items() if key != "team"})["VolumeId"]
    report, lines = run(real_now() + 40 * DAY, apply=True, environment="dev")
    assert {theirs, staging, unmanaged, ownerless} <= world.volume_ids()
    assert old not in world.volume_ids()
    assert [finding.id for finding in report.deleted] == [old]
    assert "environment 'staging', not 'dev'" in verdict_of(report, staging).why
    assert "'managed-by' is 'terraform'" in verdict_of(report, unmanaged).why
    assert "'team' tag missing" in verdict_of(report, ownerless).why
    applied = [line for line in lines if line["outcome"] == "applied"]
    assert applied == [line for line in applied if line["detail"]["id"] == old] and len(applied) == 1
    assert "ours, idle 40" in next(line for line in lines if line["outcome"] == "applying")["detail"]["why"]


def test_the_grace_period_at_its_limit(world):
    volume = world.volume(OWNED)
    created = volume["CreateTime"]
    just_before, _ = run(created + 7 * DAY - datetime.timedelta(seconds=1), apply=True)
    assert not verdict_of(just_before, volume["VolumeId"]).delete
    assert "within the grace period" in verdict_of(just_before, volume["VolumeId"]).why
    assert volume["VolumeId"] in world.volume_ids()
    exactly, _ = run(created + 7 * DAY, apply=True)
    assert verdict_of(exactly, volume["VolumeId"]).delete
    assert volume["VolumeId"] not in world.volume_ids()


def test_a_grace_of_zero_days_deletes_at_once(world):
    volume = world.volume(OWNED)
    report, _ = run(volume["CreateTime"], apply=True, grace_days=0)
    assert [finding.id for finding in report.deleted] == [volume["VolumeId"]]


def test_more_deletions_than_the_bound_refuses_all_of_them(world):
    volumes = {world.volume(OWNED)["VolumeId"] for _ in range(3)}
    report, lines = run(real_now() + 40 * DAY, apply=True, max_deletions=2)
    assert report.exit_code == 2 and "3 resources would be deleted, more than --max-deletions 2" in report.refused
    assert volumes <= world.volume_ids() and not report.deleted
    assert [line["outcome"] for line in lines] == ["refused"]
    # At the bound: all of them.
    report, _ = run(real_now() + 40 * DAY, apply=True, max_deletions=3)
    assert report.exit_code == 0 and not volumes & world.volume_ids()


def test_a_bound_of_zero_deletes_nothing_but_a_dry_run_still_reports(world):
    world.volume(OWNED)
    refused, _ = run(real_now() + 40 * DAY, apply=True, max_deletions=0)
    assert refused.exit_code == 2
    dry, _ = run(real_now() + 40 * DAY, apply=False, max_deletions=0)
    assert dry.exit_code == 0 and dry.totals()["deletable"] == 1


class Racing:
    """Scans, then lets the world change before the deletions (a volume gets attached)."""

    def __init__(self, inner: AwsJanitor, change) -> None:
        self.inner, self.change = inner, change

    def scan(self):
        found = self.inner.scan()
        self.change()
        return found

    def delete(self, finding: Finding) -> str:
        return self.inner.delete(finding)


def test_a_deletion_that_fails_is_reported_and_the_rest_go_on(world):
    taken = world.volume(OWNED)["VolumeId"]
    others = {world.volume(OWNED)["VolumeId"] for _ in range(2)}
    instance = world.instance(OWNED)
    now = real_now() + 40 * DAY

    def attach() -> None:
        world.ec2.attach_volume(VolumeId=taken, InstanceId=instance, Device="/dev/sdg")

    report, lines = run(now, apply=True, janitors=[Racing(janitor(now), attach)])
    assert report.exit_code == 1
    assert [(finding.id, "VolumeInUse" in error) for finding, error in report.failed] == [(taken, True)]
    assert not others & world.volume_ids() and taken in world.volume_ids()
    assert [line["detail"]["id"] for line in lines if line["outcome"] == "failed"] == [taken]
    text = io.StringIO()
    report.write_text(text)
    assert f"FAILED  volume {taken}: ec2:DeleteVolume in {REGION}: VolumeInUse" in text.getvalue()


def test_an_ecr_deletion_refused_in_its_answer_is_a_failure():
    ecr = boto3.client("ecr", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    digest = "sha256:" + "0" * 64
    image = Finding("aws", "ecr-image", digest, REGION, "untagged image", real_now() - 40 * DAY, OWNED)
    image = dataclasses.replace(image, location="project-ai/api")
    failure = {"imageId": {"imageDigest": digest}, "failureCode": "ImageNotFound", "failureReason": "gone already"}
    with Stubber(ecr) as stub:
        expected = {"repositoryName": "project-ai/api", "imageIds": [{"imageDigest": digest}]}
        stub.add_response("batch_delete_image", {"failures": [failure]}, expected)
        with pytest.raises(OpsError, match="ImageNotFound: gone already"):
            AwsJanitor(lambda service, region: ecr, REGION, SETTINGS, real_now()).delete(image)


# --- Elastic IPs: marked, then deleted after the grace period ---


def test_an_address_is_marked_by_an_applying_run_and_deleted_after_the_grace(world):
    address = world.address(OWNED)
    first_run = real_now()
    report, _ = run(first_run, apply=True)
    assert not verdict_of(report, address).delete and "unknown time" in verdict_of(report, address).why
    assert [finding.id for finding in report.marked] == [address]
    tags = {
        tag["Key"]: tag["Value"]
        for tag in world.ec2.describe_addresses(AllocationIds=[address])["Addresses"][0]["Tags"]
    }
    assert datetime.datetime.fromisoformat(tags[FIRST_SEEN]) == first_run.replace(microsecond=0)
    again, _ = run(first_run + 7 * DAY, apply=True)
    assert [finding.id for finding in again.deleted] == [address]
    assert not world.ec2.describe_addresses()["Addresses"]


def test_an_address_not_ours_is_never_marked(world):
    address = world.address({**OWNED, "part-of": "someone-else"})
    report, _ = run(real_now(), apply=True)
    assert not report.marked
    assert FIRST_SEEN not in {
        tag["Key"] for tag in world.ec2.describe_addresses(AllocationIds=[address])["Addresses"][0].get("Tags", [])
    }


# --- stopped instances ---


def test_a_stopped_instance_is_terminated_after_the_grace(world):
    stopped = world.instance(OWNED)
    world.ec2.stop_instances(InstanceIds=[stopped])
    reason = world.ec2.describe_instances(InstanceIds=[stopped])["Reservations"][0]["Instances"][0][
        "StateTransitionReason"
    ]
    since = stopped_at(reason)
    assert since is not None
    young, _ = run(since + 6 * DAY, apply=True)
    assert not verdict_of(young, stopped).delete
    report, _ = run(since + 8 * DAY, apply=True)
    assert [finding.id for finding in report.deleted] == [stopped]
    state = world.ec2.describe_instances(InstanceIds=[stopped])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("User initiated (2024-05-01 10:00:00 GMT)", datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.UTC)),
        (
            "Server.ScheduledStop: Stopped due to scheduled retirement (2023-12-31 23:59:59 GMT)",
            datetime.datetime(2023, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
        ),
        ("User initiated", None),
        ("", None),
        (None, None),
        ("User initiated (2024-13-01 10:00:00 GMT)", None),
    ],
)
def test_when_an_instance_stopped(reason, expected):
    assert stopped_at(reason) == expected


def test_a_stopped_instance_without_a_stop_time_is_kept():
    finding = Finding("aws", "instance", "i-1", REGION, "stopped", None, OWNED)
    verdict = decide(finding, Rules(7 * DAY), real_now())
    assert not verdict.delete and "unknown time" in verdict.why


# --- bypass attempts: tags that resemble the project's ---


LOOK_ALIKES = {
    "key in another case": {**{k: v for k, v in OWNED.items() if k != "part-of"}, "Part-Of": "project-ai"},
    "key with a trailing space": {**{k: v for k, v in OWNED.items() if k != "part-of"}, "part-of ": "project-ai"},
    "both spellings of a key": {**OWNED, "PART-OF": "project-ai"},
    "value in another case": {**OWNED, "part-of": "Project-AI"},
    "value with whitespace": {**OWNED, "part-of": " project-ai"},
    "value with a Cyrillic o": {**OWNED, "part-of": "pr\u043eject-ai"},
    "value with a non-ASCII hyphen": {**OWNED, "part-of": "project\u2010ai"},
    "value in full-width letters": {**OWNED, "part-of": "ｐｒｏｊｅｃｔ-ａｉ"},
    "managed-by look-alike": {**OWNED, "managed-by": "pulumі"},
    "empty environment": {**OWNED, "environment": " "},
}


@pytest.mark.parametrize("case", sorted(LOOK_ALIKES))
def test_tags_that_only_resemble_the_projects_are_not_ours(world, case):
    volume = world.volume(LOOK_ALIKES[case])["VolumeId"]
    report, _ = run(real_now() + 40 * DAY, apply=True)
    verdict = verdict_of(report, volume)
    assert not verdict.delete, verdict.why
    assert volume in world.volume_ids()
    assert not report.deleted


def test_a_resource_with_fifty_tags_is_judged_by_its_ownership_tags_alone(world):
    many = {**OWNED, **{f"extra-{index:02d}": "x" * 200 for index in range(50 - len(OWNED))}}
    assert len(many) == 50  # AWS's limit per resource
    volume = world.volume(many)["VolumeId"]
    report, _ = run(real_now() + 40 * DAY, apply=True)
    assert [finding.id for finding in report.deleted] == [volume]
    assert len(verdict_of(report, volume).finding.tags) == 50


def test_fifty_look_alike_keys_are_named_briefly():
    tags = {**OWNED, **{f"{' ' * index}part-of": "project-ai" for index in range(1, 51)}}
    problem = ownership_problem(tags)
    assert problem is not None and problem.startswith("ambiguous ownership") and len(problem) < 200


def test_odd_characters_in_names_are_shown_escaped_on_one_line():
    odd = "vol-1\n\x1b[31mDELETED everything\x1b[0m\u202e"
    finding = Finding("aws", "volume", odd, REGION, f"unattached EBS volume named {odd}", None, OWNED)
    report = Report("aws", REGION, True, pricing.NONE)
    report.verdicts.append(decide(finding, Rules(7 * DAY), real_now()))
    text = io.StringIO()
    report.write_text(text)
    lines = text.getvalue().splitlines()
    assert len(lines) == 4 and "\x1b" not in text.getvalue() and "\\n" in lines[2] and "\\x1b" in lines[2]
    data = io.StringIO()
    report.write(data, "json")
    assert json.loads(data.getvalue())["findings"][0]["id"] == odd


# --- the command line ---


@contextlib.contextmanager
def clock_at(monkeypatch, moment: datetime.datetime):
    monkeypatch.setattr(janitor_cli, "now", lambda: moment)
    yield


def test_the_command_prints_json_with_totals_and_exits_zero(world, monkeypatch, capsys):
    volume = world.volume(OWNED)["VolumeId"]
    with clock_at(monkeypatch, real_now() + 40 * DAY):
        code = main(["janitor", "aws", "--region", REGION, "--format", "json", "--environment", "dev"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["dryRun"] is True
    assert volume in {finding["id"] for finding in printed["findings"] if finding["deletable"]}
    assert printed["totals"]["deletable"] >= 1 and printed["totals"]["deletableMonthlyUsd"] >= 8.0
    assert "recorded" in printed["prices"]
    assert volume in world.volume_ids()


def test_the_command_applies_with_apply_and_audits_to_a_file(world, monkeypatch, capsys, tmp_path):
    volume = world.volume(OWNED)["VolumeId"]
    log = tmp_path / "audit.jsonl"
    with clock_at(monkeypatch, real_now() + 40 * DAY):
        code = main(["--audit-log", str(log), "janitor", "aws", "--region", REGION, "--apply", "--no-prices"])
    out = capsys.readouterr().out
    assert code == 0 and volume not in world.volume_ids()
    assert "applying" in out and "no estimate: pricing off" in out
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    applied = [line for line in lines if line["outcome"] == "applied"]
    assert applied[0]["detail"]["id"] == volume and applied[0]["detail"]["action"] == "ec2:DeleteVolume"
    applying = next(line for line in lines if line["outcome"] == "applying")
    assert "unattached EBS volume" in applying["detail"]["why"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--region", "Europe"], "'Europe' is not an AWS region name"),
        (["--region", "us-east-9"], "'us-east-9' is not an AWS region; did you mean"),
        ([], "the following arguments are required: --region"),
        (["--region", REGION, "--grace-days", "-1"], "-1 is outside 0 to 3650"),
        (["--region", REGION, "--grace-days", "3651"], "3651 is outside 0 to 3650"),
        (["--region", REGION, "--grace-days", "seven"], "'seven' is not a whole number"),
        (["--region", REGION, "--max-deletions", "1001"], "1001 is outside 0 to 1000"),
        (["--region", REGION, "--keep-snapshots", "0"], "0 is outside 1 to 100"),
        (["--region", REGION, "--environment", "dev; rm -rf /"], "is not an environment name"),
        (["--region", REGION, "--environment", "d" * 64], "is not an environment name"),
        (["--region", REGION, "--format", "xml"], "invalid choice: 'xml'"),
        (["--region", REGION, "--timeout-seconds", "nan"], "is outside 1 to 300 s"),
    ],
)
def test_bad_flags_are_refused_clearly(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["janitor", "aws", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and message in err and "Traceback" not in err


def test_missing_credentials_are_one_line(monkeypatch, tmp_path, capsys):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for variable in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(variable, raising=False)
    code = main(["janitor", "aws", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "ops: error: no AWS credentials: set AWS_PROFILE (or --profile), or run `aws sso login` first"
    )
    assert "Traceback" not in err


def test_throttling_is_said_in_one_line_and_the_other_kinds_go_on():
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_volumes", "RequestLimitExceeded", "Request limit exceeded.")
        stub.add_response("describe_addresses", {"Addresses": []})
        found = AwsJanitor(lambda service, region: ec2, REGION, SETTINGS, real_now())
        with pytest.raises(OpsError, match=r"ec2:describe_volumes in us-east-1: throttled by AWS even after retries"):
            found.volumes()
        assert found.addresses() == []


def test_permission_denied_names_the_call():
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_addresses", "UnauthorizedOperation", "You are not authorized.")
        with pytest.raises(OpsError, match=r"ec2:describe_addresses in us-east-1: permission denied"):
            AwsJanitor(lambda service, region: ec2, REGION, SETTINGS, real_now()).addresses()


def test_a_region_the_account_cannot_use_is_said_plainly():
    ec2 = boto3.client("ec2", region_name="ap-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(ec2) as stub:
        stub.add_client_error("describe_addresses", "AuthFailure", "AWS was not able to validate the credentials.")
        with pytest.raises(OpsError, match=r"refused there \(AuthFailure\); is the region enabled"):
            AwsJanitor(lambda service, region: ec2, "ap-east-1", SETTINGS, real_now()).addresses()


@pytest.mark.parametrize("endpoint", ["stopped", "frozen"])
def test_an_endpoint_down_or_frozen_fails_each_kind_within_its_timeout(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(frozen_endpoint()) if endpoint == "frozen" else stopped_endpoint()
        clients = boto3_clients(timeout_seconds=0.5, attempts=1, endpoint_url=url)
        findings, errors = AwsJanitor(clients, REGION, SETTINGS, real_now()).scan()
    assert findings == [] and len(errors) == len(AwsJanitor.KINDS)
    assert all("AWS did not answer in time" in error for error in errors)
