"""Tests for the DingTalk robot client package (no Home Assistant involved)."""
