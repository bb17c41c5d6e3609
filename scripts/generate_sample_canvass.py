"""Regenerate the bundled canvass sample, or write benchmark exports.

The generator lives in `ingestion.canvass.sample` (demo mode re-anchors the sample on the clock
with it, see docs/canvass.md); this script is its command line:

    .venv/bin/python scripts/generate_sample_canvass.py              # rewrite data/sample/canvass/
    .venv/bin/python scripts/generate_sample_canvass.py --anchor 2027-03-20   # shift the dates
    .venv/bin/python scripts/generate_sample_canvass.py --bench 1000000 --out /tmp/x  # big file
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.canvass.sample import main

if __name__ == "__main__":
    sys.exit(main())
