"""Score parameters: read from the campaign file's `scores:` section, validated, versioned."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrutin.campaign import DEFAULT_CAMPAIGN_CONFIG, CampaignConfigError
from scrutin.scores.params import ScoreParams, load_score_params, params_version

CAMPAIGN = "campaign_id: brest_2027\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"


def write(tmp_path: Path, scores: str, head: str = CAMPAIGN) -> Path:
    path = tmp_path / "campaign.yml"
    path.write_text(head + scores, encoding="utf-8")
    return path


def test_bundled_file_has_a_valid_scores_section() -> None:
    params = load_score_params(DEFAULT_CAMPAIGN_CONFIG)
    assert (params.bloc, params.rival, params.profile) == ("left", "strongest_other", "fr")
    # fr profile: no turnout effect (Pons 2018), persuasion 0.2.
    assert (params.tau, params.pi) == (0.0, 0.2)
    assert (params.kappa, params.open_rate_prior, params.k_min) == (20.0, 0.35, 11)
    assert params.high_salience_election != params.low_salience_election


def test_missing_section_takes_defaults_and_campaign_k_min(tmp_path: Path) -> None:
    params = load_score_params(write(tmp_path, "", head=CAMPAIGN + "k_min: 15\n"))
    assert params == ScoreParams(k_min=15)


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ("  tau: -0.01\n", "scores.tau", "out of range"),
        ("  tau: 1.5\n", "scores.tau", "out of range"),
        ("  pi: -0.1\n", "scores.pi", "out of range"),
        ("  kappa: 0\n", "scores.kappa", "out of range"),
        ("  kappa: .inf\n", "scores.kappa", "out of range"),
        ("  coverage_gamma: -1\n", "scores.coverage_gamma", "out of range"),
        ("  open_rate_prior: 1\n", "scores.open_rate_prior", "out of range"),
        ("  volatility: 0.15\n", "scores.volatility", "Pedersen index"),
        ("  profile: de\n", "scores.profile", "not a prior profile"),
        ("  rival: left\n", "scores.rival", "not a rival"),
        ("  rival: greens\n", "scores.rival", "strongest_other"),
        ("  bloc: greens\n", "scores.bloc", "not a bloc of dbt vars.blocs"),
        ("  target_election: last_one\n", "scores.target_election", "election id"),
        ("  low_salience_election: 2024_legi_t1\n", "scores.low_salience_election", "differ"),
        ("  taux: 0.1\n", "scores.taux", "unknown key"),
    ],
)
def test_bad_values_are_refused_naming_file_and_key(
    tmp_path: Path, line: str, key: str, reason: str
) -> None:
    path = write(tmp_path, "scores:\n" + line)
    with pytest.raises(CampaignConfigError) as excinfo:
        load_score_params(path)
    assert excinfo.value.key == key
    assert reason in excinfo.value.reason
    assert str(path) in str(excinfo.value)


def test_boundaries_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "scores:\n  tau: 1\n  pi: 0\n  coverage_gamma: 0\n  ridge_lambda: 0\n")
    params = load_score_params(path)
    assert (params.tau, params.pi, params.coverage_gamma, params.ridge_lambda) == (1, 0, 0, 0)
    assert load_score_params(write(tmp_path, "scores:\n  tau: 0\n")).tau == 0.0


def test_profiles_give_tau_and_pi_and_the_file_overrides_them(tmp_path: Path) -> None:
    us = load_score_params(write(tmp_path, "scores:\n  profile: us\n"))
    assert us.tau == pytest.approx(1 / 14, abs=1e-4) and us.pi == 0.03
    fr = load_score_params(write(tmp_path, "scores:\n  profile: fr\n"))
    assert (fr.tau, fr.pi) == (0.0, 0.2)
    mixed = load_score_params(write(tmp_path, "scores:\n  profile: us\n  pi: 0.1\n"))
    assert (mixed.tau, mixed.pi) == (us.tau, 0.1)
    # The profile name is part of the version even where the values coincide.
    same_values = load_score_params(
        write(tmp_path, f"scores:\n  profile: fr\n  tau: {us.tau}\n  pi: {us.pi}\n")
    )
    assert params_version(same_values) != params_version(us)


def test_rival_rules_and_blocs_are_accepted(tmp_path: Path) -> None:
    for rival in ("strongest_other", "runoff_opponent", "far_right"):
        assert load_score_params(write(tmp_path, f"scores:\n  rival: {rival}\n")).rival == rival


def test_version_covers_the_territory(tmp_path: Path) -> None:
    bare = load_score_params(write(tmp_path, "scores:\n  kappa: 10\n"))
    a = load_score_params(
        write(
            tmp_path,
            "scores:\n  kappa: 10\n",
            head=CAMPAIGN + "territory:\n  constituencies: ['29-02']\n",
        )
    )
    b = load_score_params(
        write(
            tmp_path,
            "scores:\n  kappa: 10\n",
            head=CAMPAIGN + "territory:\n  constituencies: ['29-03']\n",
        )
    )
    assert a.territory == (("constituency", "29-02"),)
    assert len({params_version(bare), params_version(a), params_version(b)}) == 3


def test_section_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(CampaignConfigError, match="mapping"):
        load_score_params(write(tmp_path, "scores: 3\n"))


def test_version_changes_with_any_parameter_not_with_key_order(tmp_path: Path) -> None:
    a = load_score_params(write(tmp_path, "scores:\n  tau: 0.05\n  kappa: 10\n"))
    b = load_score_params(write(tmp_path, "scores:\n  kappa: 10\n  tau: 0.05\n"))
    c = load_score_params(write(tmp_path, "scores:\n  kappa: 10\n  tau: 0.051\n"))
    d = load_score_params(
        write(tmp_path, "scores:\n  kappa: 10\n  tau: 0.05\n", head=CAMPAIGN + "k_min: 12\n")
    )
    assert len(params_version(a)) == 12
    assert int(params_version(a), 16) >= 0
    assert params_version(a) == params_version(b)
    assert len({params_version(a), params_version(c), params_version(d)}) == 3
