"""ccgw-exporter: Prometheus exporter for conferences on Huawei CC-Gateway."""

__version__ = "0.2.0"
