"""Self-healing: an Alertmanager webhook receiver that maps alerts to runbook actions
(ops/heal/runbooks.yaml) within safety rails, audits every decision, and learns which
action resolves which alert (`ops heal serve | approve | stats`)."""
