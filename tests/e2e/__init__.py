"""End to end: simulators, the exporter, a real Prometheus and a real Alertmanager."""
