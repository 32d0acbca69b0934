"""Real-browser tests: Debian's Chromium (Playwright) on a real Home Assistant."""
