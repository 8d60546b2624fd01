"""`ops insight serve`: the in-cluster anomaly and forecast service (issue #20).

Every interval it reads the API's four golden signals from Prometheus (signals.py), feeds
each to its own online Detector (ops/anomaly) and Forecaster (ops/forecast), keeps their
state on disk (state.py) and exports scores and forecasts for Prometheus to scrape
(service.py, server.py). The alerts on them are components/monitoring/prediction_rules.py.
"""

# How far ahead projectai_forecast_peak looks (KEDA scales on it: predictiveScaling's lead time).
DEFAULT_PEAK_WINDOW_SECONDS = 15 * 60
