"""Online anomaly detection on one metric's series: `ops anomalies` and the anomaly service."""
