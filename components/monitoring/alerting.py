"""Alertmanager routing: critical pages (PagerDuty), warnings go to the owning team's
Slack channel, info to a low-noise channel; a critical alert still firing after
`escalate_after` also reaches an escalation receiver.

Alertmanager has no timer of its own, so escalation is a rule (`rules.escalation_rules`):
`CriticalAlertUnresolved` fires for any critical alert that has been firing that long,
with severity `escalation`, which routes to the escalation receiver.

Where self-healing runs (components/heal.py), the alerts its runbooks handle also go to
its webhook first, and on to the human receivers as before (`continue`): a person is
told whatever the receiver does, and the receiver hears when an alert resolves.

Credentials are files mounted from Kubernetes Secrets (synced from Vault): nothing
secret is in the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.monitoring.rules import ESCALATION_SEVERITY

SECRETS_DIR = "/etc/alertmanager/secrets"
PAGERDUTY_SECRET = "alertmanager-pagerduty"
ESCALATION_SECRET = "alertmanager-pagerduty-escalation"
SLACK_SECRET = "alertmanager-slack"
# The self-healing receiver's webhook token (the same Vault entry as the receiver's).
HEAL_SECRET = "alertmanager-heal"
HEAL_TOKEN_KEY = "webhook-token"
HEAL_RECEIVER = "self-healing"
# Alerts in one notification: far inside what the receiver takes (ops/heal/payload.py:
# 1,000 alerts, 1 MiB), so a storm is truncated here rather than refused there.
HEAL_MAX_ALERTS = 200


@dataclass(frozen=True)
class HealingArgs:
    # The receiver's alerts endpoint.
    url: str
    # The alerts its runbooks handle, by name.
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class AlertingArgs:
    # Slack channel of each team that owns alerts; warnings route by the `team` label.
    team_channels: dict[str, str]
    low_noise_channel: str
    group_wait: str = "30s"
    group_interval: str = "5m"
    critical_repeat: str = "1h"
    warning_repeat: str = "4h"
    info_repeat: str = "24h"
    # The self-healing receiver, where it runs.
    healing: HealingArgs | None = None


def _slack(channel: str) -> dict[str, Any]:
    return {
        "api_url_file": f"{SECRETS_DIR}/{SLACK_SECRET}/webhook-url",
        "channel": channel,
        "send_resolved": True,
        "title": "{{ .CommonLabels.alertname }} ({{ .Status }})",
        "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.runbook_url }}\n{{ end }}",
    }


def _pagerduty(secret: str) -> dict[str, Any]:
    return {
        "routing_key_file": f"{SECRETS_DIR}/{secret}/routing-key",
        "send_resolved": True,
        # A group of differing alerts has no common summary, and PagerDuty refuses an empty one.
        "description": (
            "{{ if .CommonAnnotations.summary }}{{ .CommonAnnotations.summary }}"
            "{{ else }}{{ .CommonLabels.alertname }} ({{ .Alerts.Firing | len }} firing){{ end }}"
        ),
    }


def _webhook(healing: HealingArgs) -> dict[str, Any]:
    return {
        "url": healing.url,
        # The receiver records each action's outcome when its alert resolves.
        "send_resolved": True,
        "max_alerts": HEAL_MAX_ALERTS,
        "http_config": {
            "authorization": {"type": "Bearer", "credentials_file": f"{SECRETS_DIR}/{HEAL_SECRET}/{HEAL_TOKEN_KEY}"},
            "follow_redirects": False,
        },
    }


def _healing_route(healing: HealingArgs, repeat: str) -> dict[str, Any]:
    return {
        "receiver": HEAL_RECEIVER,
        "matchers": [f'alertname=~"{"|".join(sorted(healing.alerts))}"'],
        # On to the human receivers below: the receiver acts, people are still told.
        "continue": True,
        "repeat_interval": repeat,
    }


def team_receiver(team: str) -> str:
    return f"slack-{team}"


def config(args: AlertingArgs) -> dict[str, Any]:
    team_routes = [
        {
            "receiver": team_receiver(team),
            "matchers": ['severity="warning"', f'team="{team}"'],
            "repeat_interval": args.warning_repeat,
        }
        for team in sorted(args.team_channels)
    ]
    healing = [_healing_route(args.healing, args.critical_repeat)] if args.healing else []
    return {
        "route": {
            "receiver": "slack-low-noise",
            "group_by": ["alertname", "namespace"],
            "group_wait": args.group_wait,
            "group_interval": args.group_interval,
            "repeat_interval": args.info_repeat,
            "routes": [
                *healing,
                {
                    "receiver": "pagerduty-escalation",
                    "matchers": [f'severity="{ESCALATION_SEVERITY}"'],
                    "repeat_interval": args.critical_repeat,
                },
                {"receiver": "pagerduty", "matchers": ['severity="critical"'], "repeat_interval": args.critical_repeat},
                *team_routes,
                # A warning of a team without a channel still reaches someone.
                {
                    "receiver": "slack-low-noise",
                    "matchers": ['severity="warning"'],
                    "repeat_interval": args.warning_repeat,
                },
            ],
        },
        "inhibit_rules": [
            # While the critical alert fires, its warning twin adds nothing.
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "namespace"],
            },
        ],
        "receivers": [
            {"name": "pagerduty", "pagerduty_configs": [_pagerduty(PAGERDUTY_SECRET)]},
            {"name": "pagerduty-escalation", "pagerduty_configs": [_pagerduty(ESCALATION_SECRET)]},
            {"name": "slack-low-noise", "slack_configs": [_slack(args.low_noise_channel)]},
            *[
                {"name": team_receiver(team), "slack_configs": [_slack(channel)]}
                for team, channel in sorted(args.team_channels.items())
            ],
            *([{"name": HEAL_RECEIVER, "webhook_configs": [_webhook(args.healing)]}] if args.healing else []),
        ],
    }
