"""Benchmarks of the DingTalk integration against the local DingTalk emulator.

Run ``scripts/bench`` (or ``python -m bench``): it writes BENCHMARKS.md and
docs/benchmarks.svg. Every request goes to the emulator on 127.0.0.1. See
BENCHMARKS.md for what is measured and how.
"""
