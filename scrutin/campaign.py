"""Campaign configuration: which campaign the field data belongs to and how long it may be kept.

One small YAML file (`config/campaign.yml`, or the file named by `SCRUTIN_CAMPAIGN_CONFIG`) holds
the parameters that decide what happens to personal data: the campaign window used by the canvass
integrity checks, the retention period after the election (the purge deletes door knocks past
it), the k-minimum below which per-bureau canvass figures are hidden, and the campaign's
territory (`territory:`, optional: communes, constituencies or départements) that the models and
the scores restrict to.

Why a dataclass and not a dict: every consumer (loader, purge, dbt vars, quality suites) reads the
same validated values, and a typo in the file is refused with the file and the key named rather
than discovered as a `KeyError` deep in a DAG run. `params_hash()` fingerprints the values so a
published figure can say which parameters produced it; extend `Campaign` with new fields (and
their validation in `_parse`) rather than reading the YAML elsewhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scrutin.config import PROJECT_ROOT, demo_mode
from scrutin.vocabulary import COMMUNE_CODE_REGEX, DEFAULT_K_MIN, unanchored

DEFAULT_CAMPAIGN_CONFIG = PROJECT_ROOT / "config" / "campaign.yml"
CAMPAIGN_CONFIG_ENV = "SCRUTIN_CAMPAIGN_CONFIG"
PARIS = ZoneInfo("Europe/Paris")

DEFAULT_RETENTION_DAYS = 30
# A campaign id becomes part of warehouse keys and file names: keep it plain.
CAMPAIGN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_RETENTION_DAYS = 3650
# Demo mode moves the bundled demo campaign (and its canvass sample) forward by whole weeks once
# today is within this many days of the end of its retention, so `make demo` and the tests work
# on any date (docs/canvass.md, "The demo on any date").
DEMO_MARGIN_DAYS = 60

_REQUIRED = ("campaign_id", "election_date", "campaign_start")
_KNOWN = (*_REQUIRED, "retention_days", "k_min", "scores", "territory")

# Territory codes, after normalisation (upper case, constituency number on two digits).
# A département: 01-95 (not 20), 2A, 2B, 971-978 (overseas departments and collectivities),
# 986-988 (Pacific), ZZ (French people abroad). The same codes the results loader writes
# (ingestion/sources/results_codes.py), as INSEE spells them.
_DEPARTEMENT = r"(?:0[1-9]|1[0-9]|[3-8][0-9]|9[0-5]|2[1-9]|2A|2B|97[1-8]|98[678]|ZZ)"
DEPARTEMENT_PATTERN = re.compile(_DEPARTEMENT)
# A commune: its 5-character INSEE code (the results' code: 75056 for Paris, not an arrondissement).
COMMUNE_PATTERN = re.compile(unanchored(COMMUNE_CODE_REGEX))
# A constituency: `<département>-<number>`, e.g. 29-02, 2A-01, 974-05, ZZ-11.
CONSTITUENCY_PATTERN = re.compile(rf"(?P<dep>{_DEPARTEMENT})-(?P<number>[0-9]{{1,2}})")
# Paris, Lyon and Marseille: the results (and so every mart) key bureaux by the whole city.
PLM_ARRONDISSEMENT = re.compile(r"(?:751(?:0[1-9]|1[0-9]|20)|6938[1-9]|132(?:0[1-9]|1[0-6]))")
TERRITORY_KINDS = ("communes", "constituencies", "departements")


class CampaignConfigError(ValueError):
    """The campaign file is missing or one of its values is not acceptable."""

    def __init__(self, path: Path, key: str | None, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key!r}" if key else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Territory:
    """The campaign's territory: a bureau belongs to it when its commune, its constituency or its
    département is listed (a union of the three lists; an empty list is simply absent).

    Codes are normalised: upper case (`2a` -> `2A`), constituency numbers on two digits
    (`29-2` -> `29-02`), duplicates dropped, sorted, so two files that say the same thing give
    the same territory (and the same `params_hash`).
    """

    communes: tuple[str, ...] = ()
    constituencies: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        """(kind, code) pairs, kind in commune / constituency / departement: what
        `ops.campaign_territory` stores and the dbt model `int_territory__bureaux` reads."""
        return [
            *(("commune", code) for code in self.communes),
            *(("constituency", code) for code in self.constituencies),
            *(("departement", code) for code in self.departements),
        ]

    def describe(self) -> str:
        """`constituency 29-02`, `3 communes (29019, 29075, ...)`: for logs and messages."""
        parts = []
        for kind, codes in (
            ("commune", self.communes),
            ("constituency", self.constituencies),
            ("département", self.departements),
        ):
            if not codes:
                continue
            shown = ", ".join(codes[:5]) + (", ..." if len(codes) > 5 else "")
            noun = (
                kind
                if len(codes) == 1
                else ("constituencies" if kind == "constituency" else kind + "s")
            )
            parts.append(f"{noun} {shown}" if len(codes) == 1 else f"{len(codes)} {noun} ({shown})")
        return " + ".join(parts)


@dataclass(frozen=True)
class Campaign:
    """The validated campaign parameters (dates are Europe/Paris calendar dates).

    `territory` None: the campaign covers whatever the warehouse holds (the demo's case).
    """

    campaign_id: str
    election_date: dt.date
    campaign_start: dt.date
    retention_days: int = DEFAULT_RETENTION_DAYS
    k_min: int = DEFAULT_K_MIN
    territory: Territory | None = None

    @property
    def window_start(self) -> dt.datetime:
        """First instant of the campaign (midnight, Paris, on campaign_start)."""
        return dt.datetime.combine(self.campaign_start, dt.time(0), tzinfo=PARIS)

    @property
    def window_end(self) -> dt.datetime:
        """End of the election day (midnight, Paris, after election_date): knocks after it are
        outside the campaign window."""
        return dt.datetime.combine(
            self.election_date + dt.timedelta(days=1), dt.time(0), tzinfo=PARIS
        )

    @property
    def retention_ends_at(self) -> dt.datetime:
        """When the campaign's door knocks expire: midnight (Paris) at the end of
        election_date + retention_days. The purge deletes them from then on."""
        last_day = self.election_date + dt.timedelta(days=self.retention_days)
        return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=PARIS)

    def shifted(self, delta: dt.timedelta) -> Campaign:
        """The same campaign, its window (and so its retention) moved by `delta`."""
        return dataclasses.replace(
            self,
            election_date=self.election_date + delta,
            campaign_start=self.campaign_start + delta,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values (dates as ISO strings, the territory as lists). A campaign
        without a territory has no `territory` key, so its hash is the one it had before
        territories existed (ops.canvass_campaigns rows stay as they are)."""
        values: dict[str, Any] = {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in dataclasses.asdict(self).items()
            if key != "territory"
        }
        if self.territory is not None:
            values["territory"] = {
                field.name: list(getattr(self.territory, field.name))
                for field in dataclasses.fields(self.territory)
            }
        return values

    def params_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of every parameter: equal values, equal hash."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def campaign_config_path() -> Path:
    """`SCRUTIN_CAMPAIGN_CONFIG` when set, else `config/campaign.yml` of the checkout."""
    explicit = os.environ.get(CAMPAIGN_CONFIG_ENV)
    return Path(explicit) if explicit else DEFAULT_CAMPAIGN_CONFIG


def paris_today() -> dt.date:
    """Today's calendar date in Europe/Paris (campaign dates are Paris dates)."""
    return dt.datetime.now(PARIS).date()


def demo_clock_shift(campaign: Campaign, today: dt.date) -> dt.timedelta:
    """How far the demo campaign must move so that `today` is well inside its retention.

    Zero while today + DEMO_MARGIN_DAYS is before the end of retention (the bundled sample is
    used as committed); otherwise the smallest whole number of weeks (weekdays, and so the
    sample's weekly rhythm, stay as they are) that puts the end of retention DEMO_MARGIN_DAYS
    ahead. The sample's knocks end about 170 days before its retention does, so after the move
    they are still in the past.
    """
    last_day = campaign.election_date + dt.timedelta(days=campaign.retention_days)
    late_days = (today + dt.timedelta(days=DEMO_MARGIN_DAYS) - last_day).days
    if late_days <= 0:
        return dt.timedelta(0)
    return dt.timedelta(weeks=-(-late_days // 7))


def demo_shift_today() -> dt.timedelta:
    """The demo campaign's shift for today (zero outside demo mode)."""
    if not demo_mode():
        return dt.timedelta(0)
    return demo_clock_shift(load_campaign(DEFAULT_CAMPAIGN_CONFIG, anchored=False), paris_today())


def load_campaign(path: str | Path | None = None, *, anchored: bool = True) -> Campaign:
    """Read and validate the campaign file; raise CampaignConfigError naming file and key.

    In demo mode the bundled demo campaign (config/campaign.yml) is moved by
    `demo_clock_shift` so it is live today (`anchored=False` reads it as written).
    """
    path = Path(path) if path is not None else campaign_config_path()
    campaign = _read(path)
    if anchored and demo_mode() and path.resolve() == DEFAULT_CAMPAIGN_CONFIG.resolve():
        return campaign.shifted(demo_clock_shift(campaign, paris_today()))
    return campaign


def _read(path: Path) -> Campaign:
    import yaml

    if not path.is_file():
        raise CampaignConfigError(
            path, None, f"campaign configuration not found (set {CAMPAIGN_CONFIG_ENV} or create it)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CampaignConfigError(path, None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CampaignConfigError(path, None, "expected a mapping of keys to values")
    return _parse(path, data)


def _parse(path: Path, data: dict[str, Any]) -> Campaign:
    unknown = sorted(str(k) for k in data if k not in _KNOWN)
    if unknown:
        raise CampaignConfigError(
            path, unknown[0], f"unknown key (expected one of {', '.join(_KNOWN)})"
        )
    for key in _REQUIRED:
        if data.get(key) in (None, ""):
            raise CampaignConfigError(path, key, "required")
    campaign_id = data["campaign_id"]
    if not isinstance(campaign_id, str) or not CAMPAIGN_ID_PATTERN.fullmatch(campaign_id):
        raise CampaignConfigError(
            path,
            "campaign_id",
            "expected lower-case letters, digits, '_' or '-' (1 to 63 characters), "
            "starting with a letter or digit",
        )
    election_date = _date(path, data, "election_date")
    campaign_start = _date(path, data, "campaign_start")
    if campaign_start > election_date:
        raise CampaignConfigError(
            path,
            "campaign_start",
            f"{campaign_start} is after election_date {election_date}: the window would be empty",
        )
    retention_days = _int(
        path, data, "retention_days", default=DEFAULT_RETENTION_DAYS, low=0, high=MAX_RETENTION_DAYS
    )
    k_min = _int(path, data, "k_min", default=DEFAULT_K_MIN, low=1, high=10_000)
    return Campaign(
        campaign_id=campaign_id,
        election_date=election_date,
        campaign_start=campaign_start,
        retention_days=retention_days,
        k_min=k_min,
        territory=_territory(path, data["territory"]) if "territory" in data else None,
    )


def _territory(path: Path, value: Any) -> Territory:
    """Validate `territory:`; None when absent. Strict: an unknown kind, an empty list or a code
    that is not one are refused with the key (`territory.constituencies[2]`) named, because a
    typo here silently changes which bureaux a campaign sees. An empty `territory:` is refused
    too: the whole loaded data is said by leaving the key out."""
    if not isinstance(value, dict) or not value:
        raise CampaignConfigError(
            path,
            "territory",
            f"expected a mapping with one or more of {', '.join(TERRITORY_KINDS)} "
            "(remove the key for the whole loaded data)",
        )
    lists: dict[str, tuple[str, ...]] = {}
    for kind, codes in value.items():
        key = f"territory.{kind}"
        if kind not in TERRITORY_KINDS:
            raise CampaignConfigError(
                path, key, f"unknown kind (expected one of {', '.join(TERRITORY_KINDS)})"
            )
        # `departements: 29` reads as one code
        items = [codes] if isinstance(codes, (str, int)) else codes
        if not isinstance(items, list) or not items:
            raise CampaignConfigError(path, key, "expected a non-empty list of codes")
        normalised = [
            _territory_code(path, f"{key}[{i}]", kind, code) for i, code in enumerate(items)
        ]
        lists[kind] = tuple(sorted(set(normalised)))
    return Territory(**lists)


def _territory_code(path: Path, key: str, kind: str, raw: Any) -> str:
    # YAML reads `29` as an int and `01` as 1 (an octal-looking scalar): codes must be quoted
    # when they start with 0, else 01 would silently become 1.
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise CampaignConfigError(path, key, f"expected a code as a string, got {raw!r}")
    if isinstance(raw, int):
        if kind == "departements" and 10 <= raw <= 95:
            raw = str(raw)
        else:
            raise CampaignConfigError(
                path, key, f'{raw!r} read as a number: quote the code (e.g. "01", "29019")'
            )
    code: str = raw.strip().upper()
    if kind == "communes":
        if PLM_ARRONDISSEMENT.fullmatch(code):
            city = {"75": "75056 (Paris)", "69": "69123 (Lyon)", "13": "13055 (Marseille)"}
            raise CampaignConfigError(
                path,
                key,
                f"{code} is a municipal arrondissement: the results key Paris, Lyon and Marseille "
                f"bureaux by the whole city, use {city[code[:2]]} or its constituencies",
            )
        if not COMMUNE_PATTERN.fullmatch(code):
            raise CampaignConfigError(
                path,
                key,
                f"{raw!r} is not a commune code: expected its 5-character INSEE code "
                "(29019, 2A004, 97411; ZZ + 3 digits for French people abroad)",
            )
        return code
    if kind == "constituencies":
        match = CONSTITUENCY_PATTERN.fullmatch(code)
        if match is None or int(match["number"]) == 0:
            raise CampaignConfigError(
                path,
                key,
                f"{raw!r} is not a constituency: expected <département>-<number>, "
                "e.g. 29-02, 2A-01, 974-05, ZZ-11 (French people abroad)",
            )
        return f"{match['dep']}-{int(match['number']):02d}"
    if not DEPARTEMENT_PATTERN.fullmatch(code):
        raise CampaignConfigError(
            path,
            key,
            f"{raw!r} is not a département: expected 01-95, 2A, 2B, 971-978, 986-988 or ZZ "
            "(French people abroad)",
        )
    return code


def _date(path: Path, data: dict[str, Any], key: str) -> dt.date:
    value = data[key]
    if isinstance(value, dt.datetime):
        raise CampaignConfigError(path, key, "expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise CampaignConfigError(path, key, "expected a date written YYYY-MM-DD")


def _int(path: Path, data: dict[str, Any], key: str, *, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if value is None:
        value = default
    # YAML `true` is an int subclass in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CampaignConfigError(path, key, f"expected a whole number between {low} and {high}")
    if not low <= value <= high:
        raise CampaignConfigError(
            path, key, f"{value} is out of range: expected between {low} and {high}"
        )
    return int(value)
