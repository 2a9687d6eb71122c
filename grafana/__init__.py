"""Grafana dashboards for ccgw-exporter, written as code.

- `grafana.panels`: typed helpers that build Grafana panel JSON (schemaVersion 39).
- `grafana.build`: the two dashboards; `python -m grafana.build` writes grafana/dashboards/.
- `grafana.queries`: reads a dashboard back and yields every panel query with the template
  variables substituted, for tests that run the queries against a real Prometheus.
"""
