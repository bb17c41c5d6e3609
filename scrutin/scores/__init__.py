"""Targeting scores of DESIGN.md "Scores" (issue #6): the pure-Python foundation.

- `params`: the versioned score parameters read from the `scores:` section of the campaign file;
- `formulas`: one vectorised numpy function per score component, plus the `why` sentence;
- `ecological`: the deterministic ridge regression behind the ecological gap;
- `plan`: the greedy volunteer-hour allocation;
- `backtest`: each component predicted from reference elections and scored against a later one,
  beside naive baselines (`scrutin backtest`, docs/backtest.md).

Nothing here touches the warehouse: the targeting mart, the plan command and the pipeline wiring
are still to be built on top of these functions (see docs/scores.md).
"""
