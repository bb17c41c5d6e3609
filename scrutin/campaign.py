"""Campaign configuration: which campaign the field data belongs to and how long it may be kept.

One small YAML file (`config/campaign.yml`, or the file named by `SCRUTIN_CAMPAIGN_CONFIG`) holds
the parameters that decide what happens to personal data: the campaign window used by the canvass
integrity checks, the retention period after the election (the purge deletes door knocks past
it), and the k-minimum below which per-bureau canvass figures are hidden.

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

from scrutin.config import PROJECT_ROOT
from scrutin.vocabulary import DEFAULT_K_MIN

DEFAULT_CAMPAIGN_CONFIG = PROJECT_ROOT / "config" / "campaign.yml"
CAMPAIGN_CONFIG_ENV = "SCRUTIN_CAMPAIGN_CONFIG"
PARIS = ZoneInfo("Europe/Paris")

DEFAULT_RETENTION_DAYS = 30
# A campaign id becomes part of warehouse keys and file names: keep it plain.
CAMPAIGN_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_RETENTION_DAYS = 3650

_REQUIRED = ("campaign_id", "election_date", "campaign_start")
_KNOWN = (*_REQUIRED, "retention_days", "k_min", "scores")


class CampaignConfigError(ValueError):
    """The campaign file is missing or one of its values is not acceptable."""

    def __init__(self, path: Path, key: str | None, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key!r}" if key else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Campaign:
    """The validated campaign parameters (dates are Europe/Paris calendar dates)."""

    campaign_id: str
    election_date: dt.date
    campaign_start: dt.date
    retention_days: int = DEFAULT_RETENTION_DAYS
    k_min: int = DEFAULT_K_MIN

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values (dates as ISO strings)."""
        return {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in dataclasses.asdict(self).items()
        }

    def params_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of every parameter: equal values, equal hash."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def campaign_config_path() -> Path:
    """`SCRUTIN_CAMPAIGN_CONFIG` when set, else `config/campaign.yml` of the checkout."""
    explicit = os.environ.get(CAMPAIGN_CONFIG_ENV)
    return Path(explicit) if explicit else DEFAULT_CAMPAIGN_CONFIG


def load_campaign(path: str | Path | None = None) -> Campaign:
    """Read and validate the campaign file; raise CampaignConfigError naming file and key."""
    import yaml

    path = Path(path) if path is not None else campaign_config_path()
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
    )


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
