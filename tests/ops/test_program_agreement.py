"""The names `ops dr` acts on by default are the ones the program declares: a rename in
the program fails here, not at night."""

from __future__ import annotations

from ops.dr import cli
from ops.dr.edge import pool_name
from preflight.synth import Synthesizer


def inputs_of(synthesizer: Synthesizer, stack: str, resource_type: str) -> list[dict]:
    return [r.inputs for r in synthesizer.synthesize(stack).resources if r.type == resource_type]


def test_the_default_global_cluster_and_home_region_are_prods(project_synthesizer: Synthesizer) -> None:
    (global_cluster,) = inputs_of(project_synthesizer, "prod", "aws:rds/globalCluster:GlobalCluster")
    assert global_cluster["globalClusterIdentifier"] == cli.GLOBAL_CLUSTER
    providers = inputs_of(project_synthesizer, "prod", "pulumi:providers:aws")
    assert {provider["region"] for provider in providers} == {cli.HOME_REGION}


def test_the_default_standby_job_is_prod_gcps_migration_job(project_synthesizer: Synthesizer) -> None:
    (job,) = inputs_of(project_synthesizer, "prod-gcp", "gcp:databasemigrationservice/migrationJob:MigrationJob")
    project = next(
        r.inputs["project"]
        for r in project_synthesizer.synthesize("prod-gcp").resources
        if r.type == "pulumi:providers:gcp"
    )
    declared = f"projects/{project}/locations/{job['location']}/migrationJobs/{job['migrationJobId']}"
    assert declared == cli.STANDBY_JOB


def test_each_region_pool_is_named_as_the_failover_expects(project_synthesizer: Synthesizer) -> None:
    pools = {
        p["name"]
        for p in inputs_of(project_synthesizer, "prod-global", "cloudflare:index/loadBalancerPool:LoadBalancerPool")
    }
    for stack in ("prod", "prod-eu", "prod-gcp"):
        assert pool_name(stack) in pools
