"""Tests of the DingTalk emulator (the independent oracle)."""
