"""The API's own metric families (app/metrics.py), as the monitoring and delivery
components read them: one place, so an alert and a canary judge the same series."""

from __future__ import annotations

REQUESTS = "http_requests_total"
LATENCY = "http_request_duration_seconds"
# Probes, scrapes and the edge's health checks say nothing about how users are served.
PROBE_ROUTES = "/livez|/readyz|/startupz|/metrics|/v1/health"
