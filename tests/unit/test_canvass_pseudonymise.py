"""Pseudonymisation: keyed, deterministic, and refused without a secret outside demo mode."""

from __future__ import annotations

import pytest

from ingestion.canvass.pseudonymise import (
    DEMO_SECRET,
    CanvassSecretError,
    Pseudonymiser,
    normalise_address,
    resolve_secret,
)


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SCRUTIN_CANVASS_SECRET", "AIRFLOW_CONN_SCRUTIN_CANVASS_SECRET", "SCRUTIN_DEMO"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("12", "Rue de Siam", "Brest"), "12 rue de siam brest"),
        (("12bis", "  Rue   de  l'Église ", "BREST"), "12 bis rue de l eglise brest"),
        ((None, "21 rue Jean-Jaurès", "Brest"), "21 rue jean jaures brest"),
        (("3", "Av. Clemenceau", "Brest"), "3 avenue clemenceau brest"),
        (("5", "Bd Gambetta", "Saint-Renan"), "5 boulevard gambetta saint renan"),
        ((None, "Lieu-dit Kerhuel", "Plouzané"), "lieu dit kerhuel plouzane"),
        (("4", "", "Brest"), None),
        (("4", "Rue Branda", None), None),
    ],
)
def test_normalise_address(
    parts: tuple[str | None, str | None, str | None], expected: str | None
) -> None:
    assert normalise_address(*parts) == expected


def test_keys_are_hmac_hex_deterministic_and_secret_dependent() -> None:
    a = Pseudonymiser("a" * 20, "qomon")
    b = Pseudonymiser("b" * 20, "qomon")
    key = a.canvasser_key("qm-001")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == Pseudonymiser("a" * 20, "qomon").canvasser_key("qm-001")
    assert key != b.canvasser_key("qm-001")
    # The same app id in another app is another person.
    assert key != Pseudonymiser("a" * 20, "pap").canvasser_key("qm-001")
    assert "qm-001" not in key
    assert a.building_key("12 rue de siam brest") != b.building_key("12 rue de siam brest")


def test_refuses_to_run_without_a_secret() -> None:
    with pytest.raises(CanvassSecretError, match="SCRUTIN_CANVASS_SECRET"):
        resolve_secret()


def test_demo_mode_uses_the_public_demo_secret_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ingestion.canvass import pseudonymise

    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    monkeypatch.setattr(pseudonymise, "_demo_warned", [])
    with caplog.at_level("WARNING", logger=pseudonymise.log.name):
        assert [resolve_secret() for _ in range(3)] == [DEMO_SECRET] * 3
    warned = [r for r in caplog.records if "public demo secret" in r.getMessage()]
    assert len(warned) == 1  # a demo build resolves it per file: the warning is said once


def test_env_secret_wins_and_short_secrets_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    monkeypatch.setenv("SCRUTIN_CANVASS_SECRET", "s" * 32)
    assert resolve_secret() == "s" * 32
    monkeypatch.setenv("SCRUTIN_CANVASS_SECRET", "short")
    with pytest.raises(CanvassSecretError, match="too short"):
        resolve_secret()


@pytest.mark.parametrize(
    "value",
    [
        "generic://:p%40ss-word-long-enough-123@",
        '{"conn_type": "generic", "password": "p@ss-word-long-enough-123"}',
    ],
)
def test_airflow_connection_password_from_env(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SCRUTIN_CANVASS_SECRET", value)
    assert resolve_secret() == "p@ss-word-long-enough-123"
