"""Prometheus rules for ccgw-exporter: the rule files live beside this module.

`prometheus.variant` derives variants of them (faster `for:`, another job regex, absolute
runbook links) for end-to-end tests and for deployments.
"""
