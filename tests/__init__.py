"""Tests for the DingTalk integration, its client and the DingTalk emulator."""
