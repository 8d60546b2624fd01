"""Disaster-recovery configuration: RPO and RTO targets per stack (defaults for
production, prod-gcp's own), exported in the region contract, and every mistake in them,
in the replication and in the VPN settings, named in one line at its limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from preflight.synth import Synthesizer
from stacks import contract
from stacks.config import ConfigError, parse
from stacks.model import AWS_RESERVED_TUNNEL_CIDRS, MIN_RTO_SECONDS
from tests.conftest import PROJECT_STACKS, stack_config, stacks_of_role
from tests.stacks.test_config import DELETE, namespace, problems, prod, stack

TARGETS = {"rpoSeconds": 1, "rtoSeconds": 60, "maxSwitchoverLagSeconds": 1}


def lines(raw: dict[str, Any], source: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, source)
    return caught.value.problems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("prod", TARGETS),
        ("prod-eu", TARGETS),
        # A cross-cloud replica: DMS's change capture, a promotion and a repointed app.
        ("prod-gcp", {"rpoSeconds": 60, "rtoSeconds": 900, "maxSwitchoverLagSeconds": 5}),
    ],
)
def test_every_production_region_has_targets(name: str, expected: dict[str, int]) -> None:
    config = parse(namespace(name), f"Pulumi.{name}.yaml")
    assert config.disaster_recovery is not None
    assert config.disaster_recovery.targets() == expected
    # No region serves from a promoted standby until its stack file says so.
    assert config.disaster_recovery.standby_promoted is False and config.standby_promoted is False


def test_other_environments_have_none_unless_they_set_them() -> None:
    for name in ("dev", "staging"):
        assert parse(namespace(name), f"Pulumi.{name}.yaml").disaster_recovery is None
    config = parse(stack("staging", disasterRecovery={**TARGETS, "rtoSeconds": 600}), "Pulumi.staging.yaml")
    assert config.disaster_recovery is not None and config.disaster_recovery.rto_seconds == 600


def test_a_stack_file_overrides_the_defaults_key_by_key() -> None:
    config = parse(prod(disasterRecovery={"rtoSeconds": 120}), "Pulumi.prod.yaml")
    assert config.disaster_recovery is not None
    assert config.disaster_recovery.targets() == {**TARGETS, "rtoSeconds": 120}


@pytest.mark.parametrize(
    "targets",
    [
        pytest.param({"rpoSeconds": 1, "maxSwitchoverLagSeconds": 0}, id="rpo-floor-caught-up-switchover"),
        pytest.param({"rpoSeconds": 86400, "rtoSeconds": 86400, "maxSwitchoverLagSeconds": 86400}, id="ceilings"),
        pytest.param({"rtoSeconds": MIN_RTO_SECONDS}, id="rto-floor"),
        pytest.param({"rpoSeconds": 30, "maxSwitchoverLagSeconds": 30}, id="switchover-at-the-rpo"),
    ],
)
def test_targets_at_their_limits_are_accepted(targets: dict[str, int]) -> None:
    config = parse(prod(disasterRecovery=targets), "Pulumi.prod.yaml")
    assert config.disaster_recovery is not None


@pytest.mark.parametrize(
    ("targets", "line"),
    [
        pytest.param(
            {"rpoSeconds": 0, "maxSwitchoverLagSeconds": 0},
            "projectai:disasterRecovery.rpoSeconds: expected a value ≥ 1, got 0",
            id="rpo-zero",
        ),
        pytest.param(
            {"rpoSeconds": 86401},
            "projectai:disasterRecovery.rpoSeconds: expected a value ≤ 86400, got 86401",
            id="rpo-above-a-day",
        ),
        pytest.param(
            {"rtoSeconds": 59},
            "projectai:disasterRecovery.rtoSeconds: expected a value ≥ 60, got 59",
            id="rto-below-what-the-edge-and-aurora-take",
        ),
        pytest.param(
            {"rtoSeconds": 86401},
            "projectai:disasterRecovery.rtoSeconds: expected a value ≤ 86400, got 86401",
            id="rto-above-a-day",
        ),
        pytest.param(
            {"maxSwitchoverLagSeconds": -1},
            "projectai:disasterRecovery.maxSwitchoverLagSeconds: expected a value ≥ 0, got -1",
            id="negative-lag",
        ),
        pytest.param(
            {"rpoSeconds": 5, "maxSwitchoverLagSeconds": 6},
            "projectai:disasterRecovery.maxSwitchoverLagSeconds: 6 is above rpoSeconds (5); a planned switchover "
            "would accept more loss than an unplanned one may",
            id="switchover-lag-above-the-rpo",
        ),
        pytest.param(
            {"rpoSeconds": "one"},
            "projectai:disasterRecovery.rpoSeconds: expected an integer, got 'one'",
            id="not-a-number",
        ),
        pytest.param(
            {"rpoSecond": 1},
            "projectai:disasterRecovery.rpoSecond: unknown key; did you mean 'rpoSeconds'?",
            id="unknown-key",
        ),
    ],
)
def test_targets_beyond_their_limits_are_one_line_each(targets: dict[str, Any], line: str) -> None:
    assert problems(prod(disasterRecovery=targets)) == [f"Pulumi.prod.yaml: {line}"]


def test_a_non_production_replica_must_name_its_targets_and_recipients() -> None:
    eu = stack("prod-eu", environment="staging")
    assert lines(eu, "Pulumi.x.yaml") == [
        "Pulumi.x.yaml: projectai:disasterRecovery: missing; a secondary replicates its primary's global database, "
        "and its replication lag alarm fires above disasterRecovery.rpoSeconds (expected rpoSeconds, rtoSeconds, "
        "maxSwitchoverLagSeconds)"
    ]
    gcp = stack("prod-gcp", disasterRecovery=TARGETS, platform__alertEmails=[])
    assert lines(gcp, "Pulumi.x.yaml") == [
        "Pulumi.x.yaml: projectai:platform.alertEmails: expected at least one address; the region replicates its "
        "primary's database, and its lag alarm notifies them"
    ]


def test_gcp_replication_needs_a_primary() -> None:
    gcp = stack("prod-gcp", stackReferences=DELETE)
    assert lines(gcp, "Pulumi.x.yaml") == [
        "Pulumi.x.yaml: projectai:platform.replication: the region has no 'primary' in stackReferences; expected "
        "the stack whose Aurora primary it replicates, e.g. stackReferences: {primary: prod}"
    ]
    # Without replication, a GCP region needs neither.
    assert parse(stack("prod-gcp", stackReferences=DELETE, platform__replication=DELETE), "x").disaster_recovery


def test_cross_cloud_replicas_only_on_a_primary() -> None:
    eu = stack("prod-eu", platform__crossCloudReplicas={"cidrs": ["10.40.16.0/20"]})
    assert lines(eu, "Pulumi.x.yaml") == [
        "Pulumi.x.yaml: projectai:platform.crossCloudReplicas: a secondary's database is a read-only member of its "
        "primary's global database; expected the replicas on the primary's stack"
    ]


@pytest.mark.parametrize(
    ("replicas", "line"),
    [
        pytest.param(
            {"cidrs": []},
            "projectai:platform.crossCloudReplicas.cidrs: expected at least 1 item(s), got none",
            id="no-range",
        ),
        pytest.param(
            {"cidrs": ["0.0.0.0/0"]},
            "projectai:platform.crossCloudReplicas.cidrs[0]: '0.0.0.0/0' is not internal; expected private, loopback "
            "or 100.64.0.0/10 (a public range would trust any client)",
            id="the-internet",
        ),
        pytest.param(
            {"cidrs": ["10.40.16.1/20"]},
            "projectai:platform.crossCloudReplicas.cidrs[0]: '10.40.16.1/20' is not a CIDR such as 10.0.0.0/16",
            id="host-bits",
        ),
        pytest.param(
            {"cidrs": ["10.40.16.0/20"], "vpnAsn": 65535},
            "projectai:platform.crossCloudReplicas.vpnAsn: 65535 is not a private ASN; expected 64512-65534 or "
            "4200000000-4294967294",
            id="public-asn",
        ),
    ],
)
def test_the_primarys_replica_settings_are_checked(replicas: dict[str, Any], line: str) -> None:
    assert problems(prod(platform__crossCloudReplicas=replicas)) == [f"Pulumi.prod.yaml: {line}"]


@pytest.mark.parametrize("asn", [64512, 65534, 4200000000, 4294967294])
def test_private_asns_at_their_limits_are_accepted(asn: int) -> None:
    assert parse(stack("prod-gcp", platform__replication={"routerAsn": asn}), "x").platform.replication


@pytest.mark.parametrize(
    ("cidrs", "line"),
    [
        pytest.param(
            ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30"],
            "projectai:platform.replication.tunnelInsideCidrs: expected at least 4 item(s), got 3",
            id="three-tunnels",
        ),
        pytest.param(
            ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.22.4/30", "169.254.23.0/30"],
            "projectai:platform.replication.tunnelInsideCidrs: expected at most 4 item(s), got 5",
            id="five-tunnels",
        ),
        pytest.param(
            ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", AWS_RESERVED_TUNNEL_CIDRS[1]],
            "projectai:platform.replication.tunnelInsideCidrs[3]: '169.254.1.0/30' is reserved by AWS; expected "
            "another /30 of 169.254.0.0/16",
            id="reserved-by-aws",
        ),
        pytest.param(
            ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "10.0.0.0/30"],
            "projectai:platform.replication.tunnelInsideCidrs[3]: '10.0.0.0/30' is no /30 of 169.254.0.0/16; a "
            "tunnel's BGP addresses are link-local",
            id="not-link-local",
        ),
        pytest.param(
            ["169.254.21.0/30", "169.254.21.4/30", "169.254.22.0/30", "169.254.23.0/29"],
            "projectai:platform.replication.tunnelInsideCidrs[3]: '169.254.23.0/29' is no /30 of 169.254.0.0/16; a "
            "tunnel's BGP addresses are link-local",
            id="not-a-30",
        ),
        pytest.param(
            ["169.254.21.0/30", "169.254.21.0/30", "169.254.22.0/30", "169.254.22.4/30"],
            "projectai:platform.replication.tunnelInsideCidrs: ['169.254.21.0/30', '169.254.21.0/30', "
            "'169.254.22.0/30', '169.254.22.4/30'] names a range twice; expected one /30 per tunnel",
            id="twice",
        ),
    ],
)
def test_tunnel_inside_ranges_are_checked(cidrs: list[str], line: str) -> None:
    found = lines(stack("prod-gcp", platform__replication={"tunnelInsideCidrs": cidrs}), "Pulumi.prod-gcp.yaml")
    assert found == [f"Pulumi.prod-gcp.yaml: {line}"]


def test_no_stack_file_holds_a_replication_secret() -> None:
    for name in PROJECT_STACKS:
        text = json.dumps(stack_config(name)).lower()
        assert "password" not in text and "presharedkey" not in text and "sharedsecret" not in text, name


@pytest.mark.parametrize("name", stacks_of_role("region"))
def test_the_contract_carries_each_regions_targets(project_synthesizer: Synthesizer, name: str) -> None:
    outputs = project_synthesizer.synthesize(name).outputs
    targets = parse(namespace(name), name).disaster_recovery  # type: ignore[union-attr]
    if targets is None:
        assert contract.DISASTER_RECOVERY not in outputs
    else:
        assert outputs[contract.DISASTER_RECOVERY] == targets.targets()
        assert "standbyPromoted" not in outputs[contract.DISASTER_RECOVERY]


def test_prod_gcp_may_serve_from_its_promoted_standby() -> None:
    config = parse(stack("prod-gcp", disasterRecovery__standbyPromoted=True), "Pulumi.prod-gcp.yaml")
    assert config.standby_promoted is True
    # The targets stay what they were; the switch is no target (the contract carries none).
    assert config.disaster_recovery is not None
    assert config.disaster_recovery.targets() == {"rpoSeconds": 60, "rtoSeconds": 900, "maxSwitchoverLagSeconds": 5}


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        pytest.param(
            prod(disasterRecovery={"standbyPromoted": True}),
            "projectai:disasterRecovery.standbyPromoted: an AWS region has no DMS standby to serve from (a GCP "
            "region with platform.replication has); expected false, or no key",
            id="aws-primary",
        ),
        pytest.param(
            stack("prod-eu", disasterRecovery={"standbyPromoted": True}),
            "projectai:disasterRecovery.standbyPromoted: an AWS region has no DMS standby to serve from (a GCP "
            "region with platform.replication has); expected false, or no key",
            id="aws-secondary",
        ),
        pytest.param(
            stack("prod-gcp", platform__replication=DELETE, disasterRecovery__standbyPromoted=True),
            "projectai:disasterRecovery.standbyPromoted: the region has no standby to serve from (no "
            "platform.replication); expected false, or no key",
            id="gcp-without-replication",
        ),
        pytest.param(
            stack("prod-gcp", platform__replication__start=False, disasterRecovery__standbyPromoted=True),
            "projectai:disasterRecovery.standbyPromoted: the migration job was never started "
            "(platform.replication.start: false), so its standby holds no data; expected start: true and a job "
            "promoted by `ops dr promote-standby`",
            id="job-never-started",
        ),
        pytest.param(
            stack("prod-gcp", disasterRecovery__standbyPromoted="yes please"),
            "projectai:disasterRecovery.standbyPromoted: expected true or false, got 'yes please'",
            id="not-a-boolean",
        ),
        pytest.param(
            stack("prod-gcp", disasterRecovery__standbyPromotion=True),
            "projectai:disasterRecovery.standbyPromotion: unknown key; did you mean 'standbyPromoted'?",
            id="unknown-key",
        ),
    ],
)
def test_a_promoted_standby_only_where_one_replicates(raw: dict[str, Any], line: str) -> None:
    assert lines(raw, "Pulumi.x.yaml") == [f"Pulumi.x.yaml: {line}"]
