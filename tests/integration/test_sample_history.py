"""The synthetic reference elections of the bundled sample (2022_pres_t1, 2021_reg_t1).

They feed the targeting scores in the demo, so they must: parse in the Ministry layouts the loader
reads, under the election ids of the manifest; keep every published identity; cover exactly the
201 bureaux of the real 2024 file; be the generator's output byte for byte; and, once loaded and
built by dbt, put every vote in a bloc with a left vote (and reservoir) that differs by bureau.
The database part runs in its own warehouse database, so the real-file counts other modules
assert on the session warehouse (402 bureaux, ...) are untouched.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from ingestion.manifest import read_elections_manifest
from ingestion.sources.elections import (
    ParsedRow,
    check_layout_matches_election,
    detect_file_layout,
    identity_issue,
    iter_results,
)
from tests.conftest import ROOT, SAMPLE, TEST_DB, TOUR1, drop_warehouse, fresh_warehouse

ELECTIONS = SAMPLE / "elections"
PRES = ELECTIONS / "presidentielle-2022-t1-synthetic.csv"
REG = ELECTIONS / "regionales-2021-t1-synthetic.csv"
EXPECTED = {PRES: ("2022_pres_t1", "minint_2017_pres"), REG: ("2021_reg_t1", "minint_2021_reg")}
GENERATOR = ROOT / "scripts" / "generate_sample_history.py"
SEEDS = ROOT / "dbt" / "seeds"
PCT = re.compile(r"^\d{1,3},\d\d$")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_sample_history", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> list[ParsedRow]:
    return list(iter_results(path))


def _fold(name: str) -> str:
    """The surname as int_candidate_results__blocs compares it: upper case, no accents."""
    decomposed = unicodedata.normalize("NFD", name.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ---- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PRES, REG], ids=lambda p: p.name)
def test_file_has_its_layout_and_manifest_election_id(path: Path) -> None:
    election_id, layout = EXPECTED[path]
    assert detect_file_layout(path) == layout
    check_layout_matches_election(path, layout, election_id)  # raises on a type mismatch
    manifest = {e.local_path().resolve(): e.election_id for e in read_elections_manifest(ELECTIONS)}
    assert manifest[path.resolve()] == election_id
    # The real files keep their ids: five elections in all (Brest's own 2022 export too).
    assert sorted(manifest.values()) == [
        "2021_reg_t1",
        "2022_legi_t1",
        "2022_pres_t1",
        "2024_legi_t1",
        "2024_legi_t2",
    ]


@pytest.mark.parametrize("path", [PRES, REG], ids=lambda p: p.name)
def test_every_row_keeps_the_published_identities(path: Path) -> None:
    rows = _rows(path)
    assert len(rows) == 201
    for row in rows:
        assert identity_issue(row) is None, row.bureau.bureau_id
        b = row.bureau
        assert b.inscrits == b.votants + b.abstentions
        assert b.votants == b.exprimes + b.blancs + b.nuls
        assert sum(c.voix for c in row.candidates) == b.exprimes
        assert all(c.voix >= 0 for c in row.candidates)


@pytest.mark.parametrize("path", [PRES, REG], ids=lambda p: p.name)
def test_bytes_follow_the_2017_2022_conventions(path: Path) -> None:
    """cp1252 and CRLF, no quoting, one block of 7 (pres) or 8 (reg) fields per candidate, every
    percentage `dd,dd` and equal to the counts it is derived from."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert b'"' not in data
    text = data.decode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # accents are single cp1252 bytes, as in the Ministry's files
    header, *lines = text.split("\r\n")[:-1]
    fixed = 21 if path == PRES else 19
    width = 7 if path == PRES else 8
    assert len(header.split(";")) == fixed + width
    n_candidates = 12 if path == PRES else 9
    for line in lines:
        fields = line.split(";")
        assert len(fields) == fixed + width * n_candidates
        counts = dict(zip(header.split(";")[:fixed], fields[:fixed], strict=True))
        ins, vot, exp = (int(counts[k]) for k in ("Inscrits", "Votants", "Exprimés"))
        assert counts["% Vot/Ins"] == f"{100 * vot / ins:.2f}".replace(".", ",")
        assert counts["% Exp/Vot"] == f"{100 * exp / vot:.2f}".replace(".", ",")
        for name, value in counts.items():
            if name.startswith("%"):
                assert PCT.match(value), (name, value)
        for k in range(n_candidates):
            block = fields[fixed + k * width : fixed + (k + 1) * width]
            voix, pct_ins, pct_exp = block[-3:]
            assert int(block[0]) == k + 1  # panel numbers 1..n in order
            assert pct_ins == f"{100 * int(voix) / ins:.2f}".replace(".", ",")
            assert pct_exp == f"{100 * int(voix) / exp:.2f}".replace(".", ",")


def test_bureaux_are_those_of_the_real_2024_first_round() -> None:
    real = {r.bureau.bureau_id: r.bureau for r in _rows(TOUR1)}
    assert len(real) == 201
    for path in (PRES, REG):
        rows = _rows(path)
        ids = [r.bureau.bureau_id for r in rows]
        assert len(ids) == len(set(ids)) == 201
        assert set(ids) == set(real)
        assert ids == sorted(ids)  # the Ministry's order: commune, then bureau
        for r in rows:
            assert r.bureau.libelle_commune == real[r.bureau.bureau_id].libelle_commune
    constituencies = {r.bureau.bureau_id: r.bureau.code_circonscription for r in _rows(PRES)}
    assert sum(1 for c in constituencies.values() if c == "02") == 95  # shared/data/real README
    assert sum(1 for c in constituencies.values() if c == "03") == 106


@pytest.mark.parametrize(
    ("path", "low", "high"), [(PRES, 0.75, 0.85), (REG, 0.30, 0.40)], ids=["pres", "reg"]
)
def test_numbers_are_plausible(path: Path, low: float, high: float) -> None:
    registered_2024 = {r.bureau.bureau_id: r.bureau.inscrits for r in _rows(TOUR1)}
    turnouts = []
    for r in _rows(path):
        b = r.bureau
        base = registered_2024[b.bureau_id]
        assert abs(b.inscrits - base) <= 0.02 * base + 0.5, b.bureau_id  # ±2 %, then rounded
        turnout = b.votants / b.inscrits
        assert low - 0.005 <= turnout <= high + 0.005, (b.bureau_id, turnout)
        assert 0 < b.blancs + b.nuls <= 0.08 * b.votants, b.bureau_id
        turnouts.append(turnout)
    assert max(turnouts) - min(turnouts) > 0.05  # turnout varies by bureau


def test_candidates_and_lists_are_known_to_the_seeds() -> None:
    pres_seed = {
        r["last_name"]: r["nuance"]
        for r in _seed("presidential_candidate_nuances.csv")
        if r["election_id"] == "2022_pres_t1"
    }
    for row in _rows(PRES):
        assert sorted(_fold(c.nom or "") for c in row.candidates) == sorted(pres_seed)
    reg_codes = {
        r["nuance"]
        for r in _seed("nuance_blocs.csv")
        if r["election_type"] in ("*", "reg")
        and int(r["valid_from_year"]) <= 2021
        and (not r["valid_to_year"] or int(r["valid_to_year"]) >= 2021)
    }
    reg_rows = _rows(REG)
    used = {c.nuance for row in reg_rows for c in row.candidates}
    assert used <= reg_codes, used - reg_codes
    assert len(used) == 9
    labels = {c.liste_libelle for row in reg_rows for c in row.candidates}
    assert all(label and label.startswith("[SYNTHÉTIQUE]") for label in labels)


# ---- generator -------------------------------------------------------------------------------


def test_committed_files_are_the_generator_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert generator().main(["--check"]) == 0
    assert "identical" in capsys.readouterr().out


def test_check_detects_a_changed_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gen = generator()
    for path in (PRES, REG):
        shutil.copy(path, tmp_path / path.name)
    assert gen.main(["--check", "--out-dir", str(tmp_path)]) == 0
    target = tmp_path / REG.name
    data = bytearray(target.read_bytes())
    offset = data.index(b"\r\n", len(data) // 2) + 2 + 40  # inside a data line
    data[offset] = ord("7") if data[offset] != ord("7") else ord("8")
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert gen.main(["--check", "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert REG.name in err and f"byte {offset}" in err
    assert PRES.name not in err


def test_generation_is_deterministic_and_the_seed_matters() -> None:
    gen = generator()
    bureaux = gen.read_bureaux(TOUR1)
    first = gen.render(bureaux)
    assert gen.render(bureaux) == first
    assert first == {PRES.name: PRES.read_bytes(), REG.name: REG.read_bytes()}
    other = gen.render(bureaux, seed=gen.SEED + 1)
    assert other[PRES.name] != first[PRES.name] and other[REG.name] != first[REG.name]


def test_largest_remainder_adds_up_exactly() -> None:
    split = generator().largest_remainder
    assert split(10, [1.0, 1.0, 1.0]) == [4, 3, 3]
    assert split(0, [0.2, 0.8]) == [0, 0]
    assert sum(split(1237, [0.3, 0.29, 0.0061, 0.155, 0.2489])) == 1237


def test_provenance_states_the_bytes_of_the_synthetic_files() -> None:
    text = (ELECTIONS / "PROVENANCE.md").read_text(encoding="utf-8")
    for path in (PRES, REG):
        data = path.read_bytes()
        row = next(line for line in text.splitlines() if line.startswith(f"| {path.name} |"))
        assert "**SYNTHETIC**" in row
        assert hashlib.sha256(data).hexdigest() in row
        assert f"{len(data):,}".replace(",", " ") in row
    assert "NOT ELECTION RESULTS" in text


# ---- loaded and built ------------------------------------------------------------------------

HISTORY_DB = f"{TEST_DB}_sample_history"


@pytest.fixture(scope="module")
def history_url() -> Iterator[str]:
    """A warehouse of its own with the sample manifest's files loaded by the real loader (201
    bureaux each; Brest's own 2022 export covers its 78 bureaux of 29-02)."""
    from ingestion.loaders.elections import load_results_file

    url = fresh_warehouse(HISTORY_DB)
    for entry in read_elections_manifest(ELECTIONS):
        report = load_results_file(url, entry.local_path(), entry.election_id)
        bureaux = 78 if entry.election_id == "2022_legi_t1" else 201
        assert (report.status, report.rows_read, report.rows_rejected) == ("loaded", bureaux, 0)
    yield url
    drop_warehouse(HISTORY_DB)


@pytest.fixture(scope="module")
def history_build(history_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """dbt builds the bureau history (seeds, staging, blocs) and the nuance test, nothing else:
    `cautious` leaves out the tests of models this module does not build (the marts)."""
    from pipeline.dbt_runner import campaign_vars, run_dbt

    args = [
        "build",
        "--select",
        "+int_bureau_history__by_election",
        "assert_every_nuance_maps_to_a_bloc",
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps(campaign_vars()),
    ]
    outcome = run_dbt(args, history_url, target_path=tmp_path_factory.mktemp("dbt-target"))
    problems = [
        (r.unique_id, r.status, r.message)
        for r in outcome.results
        if r.status not in {"success", "pass"}
    ]
    assert outcome.success and not problems, problems
    ran = {r.unique_id for r in outcome.results}
    assert "test.scrutin.assert_every_nuance_maps_to_a_bloc" in ran
    assert "model.scrutin.int_bureau_history__by_election" in ran
    return history_url


@pytest.mark.db
@pytest.mark.slow
def test_loaded_ledger_and_layouts(history_url: str) -> None:
    with psycopg.connect(history_url) as conn:
        rows = conn.execute(
            "select b.election_id, min(b.layout), count(*), sum(b.inscrits) "
            "from raw.election_results_bureau b join raw.batch_ledger l using (batch_id) "
            "where l.status = 'loaded' group by b.election_id order by b.election_id"
        ).fetchall()
    assert [r[:3] for r in rows] == [
        ("2021_reg_t1", "minint_2021_reg", 201),
        ("2022_legi_t1", "city_export", 78),
        ("2022_pres_t1", "minint_2017_pres", 201),
        ("2024_legi_t1", "minint_2024", 201),
        ("2024_legi_t2", "minint_2024", 201),
    ]
    assert rows[1][3] == 64525  # Brest's 2022 export, untouched (shared/data/real README 1.5)
    assert rows[3][3] == 172019  # the real file is untouched (shared/data/real README 1.1)


@pytest.mark.db
@pytest.mark.slow
def test_every_vote_maps_to_a_bloc(history_build: str) -> None:
    with psycopg.connect(history_build) as conn:
        unmapped = conn.execute(
            "select election_id, nuance, nuance_source, sum(votes) "
            "from intermediate.int_candidate_results__blocs "
            "where bloc is null group by 1, 2, 3"
        ).fetchall()
        assert unmapped == []
        sources = conn.execute(
            "select election_id, nuance_source, count(*) "
            "from intermediate.int_candidate_results__blocs "
            "where election_id in ('2022_pres_t1', '2021_reg_t1') group by 1, 2 order by 1, 2"
        ).fetchall()
        assert sources == [
            ("2021_reg_t1", "ministry", 201 * 9),
            ("2022_pres_t1", "presidential_candidate", 201 * 12),
        ]
        history = conn.execute(
            "select election_id, count(*), sum(unmapped_votes), "
            "bool_and(candidate_votes = valid_votes) "
            "from intermediate.int_bureau_history__by_election group by 1 order by 1"
        ).fetchall()
        assert history == [
            ("2021_reg_t1", 201, 0, True),
            ("2022_legi_t1", 78, 0, True),  # every candidate mapped through its nuance file
            ("2022_pres_t1", 201, 0, True),
            ("2024_legi_t1", 201, 0, True),
            ("2024_legi_t2", 201, 0, True),
        ]


@pytest.mark.db
@pytest.mark.slow
def test_left_votes_and_reservoir_vary_between_bureaux(history_build: str) -> None:
    """The scores need bureaux to differ: the left's votes in each reference election, and its
    reservoir RES = max(0, S_h - S_l) relative to INT = V_h - V_l (q), which drives NET's sign."""
    with psycopg.connect(history_build) as conn:
        row = conn.execute(
            """
            with h as (
                select bureau_id, voters, votes_left, share_left
                from intermediate.int_bureau_history__by_election
                where election_id = '2022_pres_t1'
            ), l as (
                select bureau_id, voters, votes_left, share_left
                from intermediate.int_bureau_history__by_election
                where election_id = '2021_reg_t1'
            ), t as (
                select bureau_id, share_left
                from intermediate.int_bureau_history__by_election
                where election_id = '2024_legi_t1'
            ), q as (
                select
                    h.votes_left as left_h,
                    l.votes_left as left_l,
                    h.share_left as share_h,
                    t.share_left as share_t,
                    greatest(0, h.votes_left - l.votes_left)::float / (h.voters - l.voters) as q
                from h join l using (bureau_id) join t using (bureau_id)
            )
            select
                count(*),
                count(distinct left_h),
                count(distinct left_l),
                min(q), max(q),
                count(*) filter (where q > 0.5),
                corr(share_h, share_t),
                bool_and(left_h > 0 and left_l > 0)
            from q
            """
        ).fetchone()
    assert row is not None
    n, distinct_h, distinct_l, q_min, q_max, q_above_half, corr, positive = row
    assert n == 201 and positive
    assert distinct_h > 100 and distinct_l > 50  # counts, so some coincide
    assert q_max - q_min > 0.3  # the reservoir differs between bureaux
    assert 0 < q_above_half < 201  # some bureaux gain from door mobilisation, some lose
    assert corr > 0.8  # the 2022 left share follows the real 2024 one
