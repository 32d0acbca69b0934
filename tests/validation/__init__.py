"""Tests of the offline repository validation."""
