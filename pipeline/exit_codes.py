"""The exit codes of every `scrutin` command (documented in docs/operations.md).

A script or a scheduler can tell apart what needs a person from what needs a retry:

- USAGE (2): bad arguments (argparse uses 2 as well), including an input file named on the
  command line that does not exist and an output folder that does not exist.
- BAD_INPUT (3): a file or a value is wrong (unparseable row, checksum mismatch, bad campaign
  file, a file named by a manifest that is missing); fix the input, then run again.
- GATE_REFUSED (4): the quality gate refused the run; nothing was published and the last good
  mart is still in place.
- INFRASTRUCTURE (5): the database or the network is down; run `make setup` / `scrutin setup`
  or retry later.
- BUSY (6): another build owns the build lock (`scrutin build`): nothing was started; retry when
  it has finished, or pass `--wait SECONDS`.
"""

from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
BAD_INPUT = 3
GATE_REFUSED = 4
INFRASTRUCTURE = 5
BUSY = 6
