"""The Kubernetes workload and the app agree: settings, probes, port, metrics path."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices

from app.secret_files import RELOADABLE
from app.settings import Settings
from components.vault.reloader import RELOAD_SECRETS
from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.app.conftest import Api
from tests.conftest import PROJECT_STACKS, api_settings, objects, one, synced_keys


def environment_names() -> set[str]:
    """Every environment variable Settings reads."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"APP_{name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice) for choice in field.validation_alias.choices)
    return names


def test_every_configmap_setting_is_one_the_app_reads(local_graph: Graph) -> None:
    (settings,) = [c for c in objects(local_graph, "ConfigMap") if c["metadata"]["name"].startswith("api-settings-")]
    data = settings["data"]
    assert set(data) <= environment_names(), set(data) - environment_names()


def test_every_secret_file_is_a_setting_and_reloader_restarts_only_for_those_the_app_cannot_reload(
    local_graph: Graph,
) -> None:
    deployment = one(local_graph, "Deployment")
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets"]
    projected = [source["secret"]["name"] for source in volume["projected"]["sources"]]
    keys = synced_keys(local_graph)
    assert {key for secret in projected for key in keys[secret]} <= environment_names()
    restarted = set(deployment["metadata"]["annotations"][RELOAD_SECRETS].split(","))
    for secret in projected:
        # A Secret whose every file the app re-reads on change needs no restart.
        reloads_itself = set(keys[secret]) <= set(RELOADABLE)
        assert (secret in restarted) is not reloads_itself, secret


@pytest.mark.parametrize("stack", [stack for stack in PROJECT_STACKS if stack != "prod-global"])
def test_every_stacks_trusted_proxies_are_ranges_the_app_accepts(
    project_synthesizer: Synthesizer, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = api_settings(project_synthesizer.synthesize(stack))["APP_TRUSTED_PROXIES"]
    monkeypatch.setenv("APP_TRUSTED_PROXIES", value)
    assert ",".join(str(network) for network in Settings().trusted_proxies) == value


@pytest.mark.anyio
async def test_the_probed_paths_and_metrics_answer_on_the_app(local_graph: Graph, api: Api) -> None:
    container = one(local_graph, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert (await api.client.get(container[probe]["httpGet"]["path"])).status_code == 200, probe
    assert (await api.client.get("/metrics")).status_code == 200
    assert container["ports"][0]["containerPort"] == Settings.model_fields["port"].default


@pytest.mark.parametrize("stack", ["local", "prod"])
def test_the_app_drains_and_shares_limits_as_its_pod_is_set_up(project_synthesizer, stack: str) -> None:
    """The drain ends before the pod is killed, and the fallback share is the HPA's floor."""
    graph = project_synthesizer.synthesize(stack)
    settings = Settings(**{"environment": "test", **_as_fields(api_settings(graph))})
    pod = next(
        o for o in objects(graph, "Deployment") + objects(graph, "Rollout") if o["metadata"]["name"] == "project-ai-api"
    )
    spec = pod["spec"]["template"]["spec"]
    pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop + settings.shutdown_grace_seconds < spec["terminationGracePeriodSeconds"]
    assert settings.upstream_timeout_seconds < settings.shutdown_grace_seconds
    (autoscaler,) = objects(graph, "HorizontalPodAutoscaler")
    assert settings.rate_limit_fallback_replicas == autoscaler["spec"]["minReplicas"]


def _as_fields(config_map: dict[str, str]) -> dict[str, str]:
    keys = {
        "APP_SHUTDOWN_GRACE_SECONDS": "shutdown_grace_seconds",
        "APP_RATE_LIMIT_FALLBACK_REPLICAS": "rate_limit_fallback_replicas",
    }
    return {field: config_map[key] for key, field in keys.items()}


def test_the_app_keeps_idle_connections_longer_than_every_proxy_in_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy that reuses a connection the app is closing loses the request (a POST
    cannot be retried): the app's keep-alive outlives the ingress's and the mesh's."""
    import uvicorn

    from app.__main__ import serve
    from components.mesh.traffic import ConnectionPool
    from stacks.model import PROXY_IDLE_SECONDS

    served: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, *args, **kwargs: served.append(server.config))
    serve(Settings(database_url="sqlite+aiosqlite://"))
    (config,) = served
    assert config.timeout_keep_alive == Settings.model_fields["keep_alive_seconds"].default > PROXY_IDLE_SECONDS
    assert int(ConnectionPool().idle_timeout.removesuffix("s")) <= PROXY_IDLE_SECONDS


@pytest.mark.parametrize(
    ("value", "message"),
    [("60", "would close idle connections the proxies in front keep for 60 s"), ("1m", "expected whole seconds")],
)
def test_a_keep_alive_the_proxies_outlive_is_refused(value: str, message: str) -> None:
    from stacks.config import ConfigError, parse
    from tests.conftest import projectai_values, stack_config

    def parse_with(keep_alive: str) -> object:
        config = stack_config("local")
        config["projectai:app"]["settings"]["APP_KEEP_ALIVE_SECONDS"] = keep_alive
        return parse(projectai_values(config), "Pulumi.local.yaml")

    with pytest.raises(ConfigError, match=f"APP_KEEP_ALIVE_SECONDS: .*{message}"):
        parse_with(value)
    assert parse_with("61")  # one second more than the proxies is enough
