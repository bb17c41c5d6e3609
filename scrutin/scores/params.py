"""Score parameters: one validated, versioned set read from the campaign file.

The scores are only as good as their priors (tau, pi... come from field experiments abroad or
in France, not from this campaign's voters), so every published score must say which parameters
produced it. A named prior `profile` (`fr`, the default, or `us`) gives tau and pi their values;
an explicit `tau:` or `pi:` in the file overrides the profile's. `ScoreParams` is read from the
`scores:` section of the campaign file (`scrutin.campaign.campaign_config_path()`), refused with
the file and the key named when a value is out of range, and fingerprinted by
`params_version()`: any changed value (the profile and the territory included) changes the
version, the order of the keys in the file does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrutin.campaign import CampaignConfigError, campaign_config_path, load_campaign
from scrutin.vocabulary import BLOCS, DEFAULT_K_MIN

SECTION = "scores"
# Same shape as the election ids of the warehouse: `<year>_<type>_t<round>`.
ELECTION_ID_PATTERN = re.compile(r"[0-9]{4}_[a-z]+_t[12]")

# Named prior profiles (docs/scores.md, "Prior profiles", gives the sources and the derivation).
# fr: Pons (2018, AER) found no turnout effect of door-to-door canvassing in France and an effect
#     on vote shares of about 3 points among contacted voters: tau = 0, and pi such that a
#     conversation in a bureau of typical volatility (persuadable share 0.15) wins 0.03 votes.
# us: Green & Gerber's syntheses of US get-out-the-vote experiments: one extra vote per 14 door
#     contacts (tau = 1/14, rounded as the former default); pi the former placeholder.
PROFILES: dict[str, dict[str, float]] = {
    "fr": {"tau": 0.0, "pi": 0.2},
    "us": {"tau": 0.0714, "pi": 0.03},
}
DEFAULT_PROFILE = "fr"
# Phone banking in the same US syntheses: one vote per 38 calls. Scrutin plans doors only; the
# figure is kept here (and in docs/scores.md) so a phone plan would start from its source.
US_VOTES_PER_PHONE_CALL = 1.0 / 38.0

# The rival a mobilised voter is weighed against (docs/scores.md, "Net value"): a bloc, or
RIVAL_STRONGEST_OTHER = "strongest_other"  # the bureau's strongest other bloc at h
RIVAL_RUNOFF_OPPONENT = "runoff_opponent"  # the expected second-round opponent (territory, at h)
RIVAL_RULES = (RIVAL_STRONGEST_OTHER, RIVAL_RUNOFF_OPPONENT)


@dataclass(frozen=True)
class ScoreParams:
    """Every parameter a score depends on (defaults are the bundled demo's).

    bloc: the campaign's bloc (one of dbt `vars.blocs`).
    target_election: the election the targeting prepares, as known results (its bloc share is the
        `actual` of the ecological gap).
    high_salience_election / low_salience_election: the reference pair h / l of INT and RES.
    rival: who a mobilised voter is weighed against: a bloc, `strongest_other` (the bureau's
        strongest other bloc at h) or `runoff_opponent` (the territory's expected second-round
        opponent at h: the other of the two strongest blocs, or the strongest if ours is not in
        the top two).
    profile: the named prior profile tau and pi come from (`fr` or `us`).
    tau: extra voters turned out per conversation (fr: 0, Pons 2018; us: 1/14).
    pi: probability that a conversation with a persuadable voter persuades them; the
        persuadable share itself is per bureau (Pedersen index between h and l, canvass
        undecided answers from k_min conversations).
    kappa: weight of the priors in pseudo-conversations (Beta updates).
    open_rate_prior: share of knocked doors that lead to a conversation before any canvass data.
    doors_per_canvasser_hour: doors one canvasser knocks in an hour.
    coverage_gamma: diminishing-returns exponent of the coverage discount (1 - coverage)^gamma.
    ridge_lambda: ridge penalty of the ecological regression (standardised features).
    plan_step_hours: granularity of the volunteer plan.
    plan_hours: canvasser-hours the published plan (`mart.canvass_plan`) allocates;
        `scrutin plan --hours N` plans any other budget on demand.
    k_min: the campaign's k-minimum (per-bureau canvass figures hidden below it).
    """

    bloc: str = "left"
    rival: str = RIVAL_STRONGEST_OTHER
    profile: str = DEFAULT_PROFILE
    target_election: str = "2024_legi_t1"
    high_salience_election: str = "2024_legi_t1"
    low_salience_election: str = "2024_legi_t2"
    tau: float = PROFILES[DEFAULT_PROFILE]["tau"]
    pi: float = PROFILES[DEFAULT_PROFILE]["pi"]
    kappa: float = 20.0
    open_rate_prior: float = 0.35
    doors_per_canvasser_hour: float = 12.0
    coverage_gamma: float = 1.0
    ridge_lambda: float = 1.0
    plan_step_hours: float = 0.5
    plan_hours: float = 100.0
    k_min: int = DEFAULT_K_MIN
    # The campaign's territory as sorted (kind, code) pairs (empty: every loaded bureau): the
    # scores rank within it, so two territories must not share a params_version.
    territory: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values (the territory as a list of [kind, code] pairs)."""
        values = dataclasses.asdict(self)
        values["territory"] = [list(pair) for pair in self.territory]
        return values

    def params_version(self) -> str:
        """First 12 hex digits of sha256 over the canonical JSON (sorted keys) of every value."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def params_version(params: ScoreParams) -> str:
    """Module-level alias of `ScoreParams.params_version`."""
    return params.params_version()


# key -> (low, high, low_inclusive, high_inclusive); None means unbounded.
_FLOAT_RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "tau": (0.0, 1.0, True, True),
    "pi": (0.0, 1.0, True, True),
    "kappa": (0.0, None, False, False),
    "open_rate_prior": (0.0, 1.0, False, False),
    "doors_per_canvasser_hour": (0.0, None, False, False),
    "coverage_gamma": (0.0, None, True, False),
    "ridge_lambda": (0.0, None, True, False),
    "plan_step_hours": (0.0, None, False, False),
    "plan_hours": (0.0, 100_000.0, True, True),
}
_STR_KEYS = (
    "bloc",
    "rival",
    "profile",
    "target_election",
    "high_salience_election",
    "low_salience_election",
)
_KNOWN = (*_STR_KEYS, *_FLOAT_RANGES)
# Keys that existed once: refused with what replaced them, not as a plain typo.
_RETIRED = {
    "volatility": "replaced by a per-bureau persuadable share (the Pedersen index of bloc shares "
    "between high_salience_election and low_salience_election, updated by the canvass's "
    "undecided answers): docs/scores.md, 'Persuasion'",
}


def load_score_params(path: str | Path | None = None) -> ScoreParams:
    """Read the campaign file's `scores:` section (absent keys take the defaults) and validate it.

    The campaign itself is loaded too (its `k_min` is part of the score parameters), so a broken
    campaign file is refused here with the same CampaignConfigError.
    """
    import yaml

    path = Path(path) if path is not None else campaign_config_path()
    campaign = load_campaign(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = data.get(SECTION)
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise CampaignConfigError(path, SECTION, "expected a mapping of score parameters")
    territory = tuple(sorted(campaign.territory.rows())) if campaign.territory else ()
    return _parse(path, section, k_min=campaign.k_min, blocs=BLOCS, territory=territory)


def _parse(
    path: Path,
    section: dict[str, Any],
    *,
    k_min: int,
    blocs: tuple[str, ...],
    territory: tuple[tuple[str, str], ...] = (),
) -> ScoreParams:
    retired = sorted(str(k) for k in section if k in _RETIRED)
    if retired:
        raise CampaignConfigError(path, f"{SECTION}.{retired[0]}", _RETIRED[retired[0]])
    unknown = sorted(str(k) for k in section if k not in _KNOWN)
    if unknown:
        raise CampaignConfigError(
            path, f"{SECTION}.{unknown[0]}", f"unknown key (expected one of {', '.join(_KNOWN)})"
        )
    defaults = ScoreParams()
    values: dict[str, Any] = {"k_min": k_min, "territory": territory}
    for key in _STR_KEYS:
        value = section.get(key, getattr(defaults, key))
        if not isinstance(value, str) or not value:
            raise CampaignConfigError(path, f"{SECTION}.{key}", "expected a non-empty string")
        values[key] = value
    if values["bloc"] not in blocs:
        raise CampaignConfigError(
            path,
            f"{SECTION}.bloc",
            f"{values['bloc']!r} is not a bloc of dbt vars.blocs ({', '.join(blocs)})",
        )
    if values["profile"] not in PROFILES:
        raise CampaignConfigError(
            path,
            f"{SECTION}.profile",
            f"{values['profile']!r} is not a prior profile (expected one of {', '.join(PROFILES)})",
        )
    if values["rival"] == values["bloc"] or (
        values["rival"] not in RIVAL_RULES and values["rival"] not in blocs
    ):
        raise CampaignConfigError(
            path,
            f"{SECTION}.rival",
            f"{values['rival']!r} is not a rival: expected another bloc of dbt vars.blocs "
            f"than {values['bloc']!r} ({', '.join(b for b in blocs if b != values['bloc'])}), "
            f"or one of {', '.join(RIVAL_RULES)}",
        )
    for key in ("target_election", "high_salience_election", "low_salience_election"):
        if not ELECTION_ID_PATTERN.fullmatch(values[key]):
            raise CampaignConfigError(
                path, f"{SECTION}.{key}", "expected an election id like 2022_pres_t1"
            )
    if values["high_salience_election"] == values["low_salience_election"]:
        raise CampaignConfigError(
            path,
            f"{SECTION}.low_salience_election",
            "must differ from high_salience_election (INT and RES would be zero everywhere)",
        )
    profile = PROFILES[values["profile"]]
    for key, bounds in _FLOAT_RANGES.items():
        default = profile.get(key, getattr(defaults, key))
        values[key] = _float(path, key, section.get(key, default), bounds)
    return ScoreParams(**values)


def _float(
    path: Path, key: str, value: Any, bounds: tuple[float | None, float | None, bool, bool]
) -> float:
    low, high, low_inc, high_inc = bounds
    left = "unbounded" if low is None else f"{'[' if low_inc else '('}{low:g}"
    right = "unbounded" if high is None else f"{high:g}{']' if high_inc else ')'}"
    expected = f"a number in {left}, {right}"
    # YAML `true` is an int subclass in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CampaignConfigError(path, f"{SECTION}.{key}", f"expected {expected}")
    number = float(value)
    too_low = low is not None and (number < low or (number == low and not low_inc))
    too_high = high is not None and (number > high or (number == high and not high_inc))
    if not math.isfinite(number) or too_low or too_high:
        raise CampaignConfigError(
            path, f"{SECTION}.{key}", f"{value} is out of range: expected {expected}"
        )
    return number
