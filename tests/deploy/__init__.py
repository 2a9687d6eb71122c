"""Helpers for tests/test_deploy.py: readers for the deployment files' formats."""
