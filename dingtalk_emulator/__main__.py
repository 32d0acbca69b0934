"""Run the emulator: ``python -m dingtalk_emulator --help``."""

import sys

from .cli import main

sys.exit(main())
