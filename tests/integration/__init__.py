"""Tests of the integration through Home Assistant."""
