"""Pseudonymisation before landing: canvasser and building become keyed hashes.

- canvasser_key = HMAC-SHA256(secret, "<source>:<the app's canvasser id>"), hex. The source
  prefix keeps canvasser 42 of Qomon apart from canvasser 42 of NationBuilder.
- building_key = HMAC-SHA256(secret, normalised address), hex, where the normalised address is
  street number + street + commune, lower-case, accents stripped, punctuation and whitespace
  folded, a few street-type abbreviations expanded (see `normalise_address`).

Why keyed (HMAC) and not a plain hash: a canvasser id or an address has little entropy, so a plain
sha256 could be reversed by hashing every id or every address of the commune. Without the secret,
the keys are opaque; with it, the same person or building gets the same key in every file, which
is what the integrity checks and the opposition register need.

The secret comes from `SCRUTIN_CANVASS_SECRET`, else the Airflow connection
`scrutin_canvass_secret` (its password field; in a task through the Task SDK, anywhere through
`AIRFLOW_CONN_SCRUTIN_CANVASS_SECRET`), else — only in demo mode (`SCRUTIN_DEMO=1`) — a fixed demo
secret. Outside demo mode, no secret means no load: `CanvassSecretError`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import re
import unicodedata
from urllib.parse import unquote, urlsplit

from ingestion.canvass.model import Address
from scrutin.config import DEMO_ENV, demo_mode

log = logging.getLogger("scrutin.ingestion.canvass")

SECRET_ENV = "SCRUTIN_CANVASS_SECRET"
SECRET_CONN_ID = "scrutin_canvass_secret"
# Public on purpose: demo data is synthetic. Never use demo mode on real canvass exports.
DEMO_SECRET = "scrutin-demo-secret--synthetic-data-only"
MIN_SECRET_LENGTH = 16

_ABBREVIATIONS = {
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "ch": "chemin",
    "crs": "cours",
    "imp": "impasse",
    "pl": "place",
    "r": "rue",
    "rte": "route",
    "sq": "square",
    "st": "saint",
    "ste": "sainte",
}
_PUNCTUATION = re.compile(r"[\s,.;:'’`\"/\\()\-_]+")
_NUMBER_SUFFIX = re.compile(r"(?<=\d)(?=[a-z])")


# Whether this process has warned about the demo secret yet (a list: no `global` needed).
_demo_warned: list[bool] = []


class CanvassSecretError(RuntimeError):
    """No usable pseudonymisation secret: canvass data must not be loaded."""


def resolve_secret(*, use_airflow: bool = False) -> str:
    """The HMAC secret; see the module docstring for where it is looked up.

    `use_airflow`: also ask Airflow's Task SDK for the connection (only meaningful inside a
    running task; the lookup is skipped quietly elsewhere).
    """
    secret = os.environ.get(SECRET_ENV) or _secret_from_conn_env() or None
    if secret is None and use_airflow:
        secret = _secret_from_airflow()
    if secret is None:
        if demo_mode():
            if not _demo_warned:
                # Once per process: a demo build resolves the secret for every file it loads.
                log.warning(
                    "demo mode (%s=1): pseudonymising with the public demo secret; "
                    "never do this with real canvass exports",
                    DEMO_ENV,
                )
                _demo_warned.append(True)
            return DEMO_SECRET
        raise CanvassSecretError(
            f"no canvass pseudonymisation secret: set {SECRET_ENV} or the password of the Airflow "
            f"connection '{SECRET_CONN_ID}' (or {DEMO_ENV}=1 for the synthetic demo only). "
            "Canvass exports are not loaded without it."
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise CanvassSecretError(
            f"the canvass secret is too short ({len(secret)} characters): use at least "
            f"{MIN_SECRET_LENGTH} random characters, e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    return secret


def _secret_from_conn_env() -> str | None:
    """The password of AIRFLOW_CONN_SCRUTIN_CANVASS_SECRET (URI or JSON form), if set."""
    raw = os.environ.get(f"AIRFLOW_CONN_{SECRET_CONN_ID.upper()}")
    if not raw:
        return None
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            value = json.loads(raw).get("password")
        except (ValueError, AttributeError):
            return None
        return str(value) if value else None
    password = urlsplit(raw).password
    return unquote(password) if password else None


def _secret_from_airflow() -> str | None:
    try:
        from airflow.sdk import Connection

        password = Connection.get(SECRET_CONN_ID).password
    except Exception:  # not in a task, no such connection: not an error here
        return None
    return password or None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _PUNCTUATION.sub(" ", stripped.casefold()).strip()


@functools.lru_cache(maxsize=262144)
def normalise_address(number: str | None, street: str | None, commune: str | None) -> str | None:
    """`12 bis, Rue de l'Église` + `Brest` -> `12 bis rue de l eglise brest`; None without a
    street or a commune (a building cannot be told apart from its neighbours then).

    Rules: lower-case, accents stripped, punctuation and whitespace folded to one space, a number
    glued to its suffix split (`12bis` -> `12 bis`), and common street-type abbreviations
    expanded (`av`, `bd`, `r`, `pl`, `ch`, `imp`, `rte`, `st`…). The number may be missing
    (rural addresses): the key is then the street's. REU `address_key` should be computed with
    this same function so the two match.
    """
    street_folded = _fold(street or "")
    commune_folded = _fold(commune or "")
    if not street_folded or not commune_folded:
        return None
    words = _NUMBER_SUFFIX.sub(" ", " ".join(filter(None, (_fold(number or ""), street_folded))))
    expanded = [_ABBREVIATIONS.get(w, w) for w in words.split()]
    return " ".join([*expanded, commune_folded])


def address_sha256(normalised: str) -> str:
    """Plain sha256 of the normalised address: the REU `address_key` it is matched against."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


class Pseudonymiser:
    """Keyed hashes for one load; caches them (an export repeats canvassers and buildings)."""

    def __init__(self, secret: str, source: str) -> None:
        self._key = secret.encode("utf-8")
        self.source = source
        self.canvasser_key = functools.lru_cache(maxsize=65536)(self._canvasser_key)
        self.building_key = functools.lru_cache(maxsize=262144)(self._building_key)

    def _hmac(self, message: str) -> str:
        return hmac.new(self._key, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def _canvasser_key(self, canvasser_id: str) -> str:
        return self._hmac(f"{self.source}:{canvasser_id.strip()}")

    def record_key(self, record_id: str) -> str:
        """The app's id of a knock, keyed: apps put e-mails, phones or names in their record
        ids (NationBuilder's contact ids, OSDI identifiers), so none is stored as written. The
        same id of the same app gives the same key, so re-exports still update their knock."""
        return self._hmac(f"record:{self.source}:{record_id.strip()}")

    def _building_key(self, normalised_address: str) -> str:
        return self._hmac(normalised_address)

    def address(self, address: Address) -> str | None:
        return normalise_address(address.number, address.street, address.commune)
