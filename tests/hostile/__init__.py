"""The hostile-input suite (issue 14): crafted files generated from the bundled sample, and the
warehouse faults injected after a publication. The tests live in the tiers that run them:
tests/integration/test_hostile_inputs.py and tests/e2e/test_hostile_faults.py."""
