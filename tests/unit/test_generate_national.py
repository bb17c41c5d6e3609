"""The national generator (benchmarks/national_sources.py) at tiny scale: every source read back
with the product's own readers, and the consistency the benchmark relies on — the same bureaux
everywhere, IRIS that tile their commune and carry its population, addresses inside their
bureau, the roll's electors equal to the results' registered voters. No database."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.generate import write_wide
from benchmarks.national_sources import (
    POPULATION_PER_ELECTOR,
    Commune,
    FastProfile,
    _person_pool,
    bureau_features,
    bureau_id,
    commune_features,
    generate_national,
    iris_features,
    national_communes,
    registered_voters,
    roll_file_name,
    write_census,
    write_geojson,
    write_reu,
    write_roll,
)
from scripts.generate_sample_census import Iris, Profile

SEED = 7


@pytest.fixture(scope="module")
def communes() -> list[Commune]:
    """A few communes of a 700-bureau geography: small ones (one `Z` IRIS), communes of 3+
    bureaux (`H` IRIS), an overseas département, and the unmapped ones (abroad, collectivities)."""
    everything = national_communes(700, SEED)
    mapped = [c for c in everything if c.mapped]
    big = [c for c in mapped if len(c.bureaux) >= 3][:3]
    small = [c for c in mapped if len(c.bureaux) < 3][:3]
    overseas = [c for c in mapped if c.dep_code == "974"][:1]
    abroad = [c for c in everything if c.insee.startswith("ZZ")][:1]
    collectivity = [c for c in everything if c.insee.startswith("987")][:1]
    unmapped = abroad + collectivity
    assert big and small and overseas and len(unmapped) == 2
    return big + small + overseas + unmapped


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, communes: list[Commune]) -> Path:
    folder = tmp_path_factory.mktemp("national")
    (folder / "geo").mkdir()
    (folder / "reu").mkdir()
    (folder / "roll").mkdir()
    places = [b for c in communes for b in c.bureaux]
    with (folder / "results.csv").open("w", encoding="utf-8", newline="") as fh:
        write_wide(fh, "minint_2024", places, 6, 1, registered=lambda b: registered_voters(b, SEED))
    write_census(folder / "census", communes, SEED)
    write_geojson(folder / "geo" / "iris.geojson", "iris", iris_features(communes, SEED))
    write_geojson(folder / "geo" / "bureaux.geojson", "bureaux", bureau_features(communes))
    write_geojson(folder / "geo" / "communes.geojson", "communes", commune_features(communes))
    write_reu(folder / "reu", communes, SEED)
    pool = _person_pool(SEED)
    for c in communes:
        if c.mapped:
            write_roll(folder / "roll", c, SEED, pool)
    return folder


def _results(folder: Path) -> dict[str, int]:
    from ingestion.sources.elections import iter_results

    return {
        row.bureau.bureau_id: row.bureau.inscrits for row in iter_results(folder / "results.csv")
    }


def _contours(path: Path, kind: str):  # a pandas frame
    from ingestion.geo.contours import read_contours

    return read_contours(path, kind).features  # type: ignore[arg-type]


def test_the_same_bureaux_in_results_reu_contours_and_roll(written: Path, communes: list[Commune]):
    from ingestion.sources.reu import iter_reu_rows
    from ingestion.sources.roll import aggregate_roll

    results = _results(written)
    mapped = {bureau_id(b) for c in communes if c.mapped for b in c.bureaux}
    assert mapped < set(results)  # abroad and the collectivities: results only
    assert any(i.startswith("ZZ") for i in set(results) - mapped)
    reu = {row.bureau_id for row in iter_reu_rows(written / "reu" / "table-bv-reu.csv")}
    assert reu == mapped
    addresses = {row.bureau_id for row in iter_reu_rows(written / "reu" / "table-adresses-reu.csv")}
    assert addresses == mapped
    assert set(_contours(written / "geo" / "bureaux.geojson", "bureau")["id"]) == mapped
    roll: set[str] = set()
    for c in communes:
        if c.mapped:
            aggregate = aggregate_roll(written / "roll" / roll_file_name(c), known_bureaux=mapped)
            assert not aggregate.rejected
            roll |= {row[3] for row in aggregate.count_rows()}
    assert roll == mapped


def test_every_address_lies_inside_its_bureau_polygon(written: Path):
    import shapely

    from ingestion.sources.reu import iter_reu_rows

    bureaux = _contours(written / "geo" / "bureaux.geojson", "bureau")
    polygons = dict(zip(bureaux["id"], bureaux["geometry"], strict=True))
    rows = list(iter_reu_rows(written / "reu" / "table-adresses-reu.csv"))
    assert len(rows) > 1000
    outside = [
        (row.bureau_id, row.longitude, row.latitude)
        for row in rows
        if not polygons[row.bureau_id].contains(shapely.Point(row.longitude, row.latitude))
    ]
    assert outside == []


def test_iris_tile_their_commune_and_cut_across_bureaux(written: Path, communes: list[Commune]):
    import shapely

    iris = _contours(written / "geo" / "iris.geojson", "iris")
    outline = _contours(written / "geo" / "communes.geojson", "commune")
    bureaux = _contours(written / "geo" / "bureaux.geojson", "bureau")
    for code, shape in zip(outline["id"], outline["geometry"], strict=True):
        parts = list(iris.loc[iris["code_commune"] == code, "geometry"])
        union = shapely.union_all(parts)
        assert union.symmetric_difference(shape).area < 1e-9 * shape.area  # they cover it
        assert abs(sum(p.area for p in parts) - shape.area) < 1e-9 * shape.area  # no overlap
        bureau_parts = list(bureaux.loc[bureaux["code_commune"] == code, "geometry"])
        assert abs(sum(p.area for p in bureau_parts) - shape.area) < 1e-9 * shape.area
    types = Counter(iris["typ_iris"])
    assert types["Z"] >= 3 and types["H"] >= 6
    # An H IRIS overlaps several bureaux of its commune: the allocation has something to do.
    big = next(c for c in communes if len(c.bureaux) >= 3)
    first = iris.loc[iris["code_commune"] == big.insee, "geometry"].iloc[0]
    crossed = bureaux.loc[bureaux["code_commune"] == big.insee, "geometry"]
    assert sum(first.intersection(b).area > 0 for b in crossed) == len(big.bureaux)


def _census_population(folder: Path) -> dict[str, float]:
    from ingestion.census.parser import CensusFile
    from ingestion.census.registry import read_registry

    population: Counter[str] = Counter()
    for spec in read_registry(folder / "census" / "manifest.yml"):
        with CensusFile(folder / "census" / str(spec.path), spec) as census:
            for record in census:
                for prefix, indicator, value, _masked, _code in record.values:
                    if spec.theme == "population" and (prefix, indicator) == ("P", "POP"):
                        population[record.code_commune] += value or 0.0
    return population


def test_census_files_parse_and_cover_each_communes_population(
    written: Path, communes: list[Commune]
):
    results = _results(written)
    population = _census_population(written)  # all six manifest entries parse
    for c in communes:
        registered = sum(results[bureau_id(b)] for b in c.bureaux)
        if not c.mapped:
            assert c.insee not in population
            continue
        assert population[c.insee] == pytest.approx(POPULATION_PER_ELECTOR * registered, abs=2)
        assert population[c.insee] > registered


def test_the_roll_lists_each_bureaus_registered_voters(written: Path, communes: list[Commune]):
    from ingestion.sources.roll import aggregate_roll

    results = _results(written)
    for c in communes:
        if not c.mapped:
            assert not (written / "roll" / roll_file_name(c)).exists()
            continue
        aggregate = aggregate_roll(written / "roll" / roll_file_name(c))
        principal: Counter[str] = Counter()
        for (
            _commune,
            _results_code,
            _bv,
            bureau,
            list_type,
            _band,
            _sex,
            n,
        ) in aggregate.count_rows():
            if list_type == "LP":
                principal[bureau] += n
        assert principal == {bureau_id(b): results[bureau_id(b)] for b in c.bureaux}


def test_fast_profile_ages_match_the_sample_profile():
    iris = Iris("290190101", "29019", "Test", "H", "Brest")
    slow, fast = Profile(iris, 2345.6, False), FastProfile(iris, 2345.6, False)
    for lo, hi, sex in ((0, 120, ""), (15, 64, "H"), (80, 120, "F"), (18, 24, ""), (5, 4, "")):
        assert fast.ages(lo, hi, sex) == pytest.approx(slow.ages(lo, hi, sex), rel=1e-12, abs=1e-9)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_generate_national_is_deterministic_from_its_seed(tmp_path: Path):
    """The smallest national set (200 bureaux) twice with one seed, once with another."""
    one = generate_national(tmp_path / "a", 0.0, seed=3)
    generate_national(tmp_path / "b", 0.0, seed=3)
    generate_national(tmp_path / "c", 0.0, seed=4)
    assert one.bureaux == 200
    assert [e for e, _ in one.elections] == [
        "2022_legi_t1",
        "2022_legi_t2",
        "2024_legi_t1",
        "2024_legi_t2",
    ]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    from ingestion.sources.elections import iter_results

    registered = [
        {row.bureau.bureau_id: row.bureau.inscrits for row in iter_results(path)}
        for _, path in one.elections
    ]
    assert len(registered[0]) == 200
    assert all(r == registered[0] for r in registered)  # one electorate, four elections
    votes = [path.read_bytes() for _, path in one.elections]
    assert len(set(votes)) == 4  # each election its own votes
    # 2022 in its year's layout and nuance grid (NUP, not the 2024 UG), 2024 in its own.
    assert votes[0].startswith("Code du département;".encode("cp1252"))
    assert b";NUP;" in votes[0] and b";UG;" not in votes[0]
    assert votes[2].startswith(b'"Code d\xc3\xa9partement"') and b";UG;" in votes[2]


def test_a_generated_folder_is_read_back_for_a_later_benchmark(tmp_path: Path):
    """`bench_national --sources` loads a folder generated earlier: its description gives the
    scale and the same counts, and a folder without one is recounted to the same figures."""
    from benchmarks.national_sources import DESCRIPTION, read_national

    made = generate_national(tmp_path / "n", 0.0, seed=5)
    scale, described = read_national(tmp_path / "n")
    assert scale == 0.0
    assert (described.bureaux, described.communes) == (made.bureaux, made.communes)
    assert described.elections == made.elections
    assert described.rows == made.rows
    (tmp_path / "n" / DESCRIPTION).unlink()
    scale, counted = read_national(tmp_path / "n")
    assert scale is None
    assert (counted.bureaux, counted.communes, counted.elections) == (
        made.bureaux,
        made.communes,
        made.elections,
    )
    assert counted.rows == made.rows


def test_no_generated_commune_is_an_arrondissement_of_paris_lyon_or_marseille():
    """At national size a département reaches code 201: Marseille's arrondissements (13201..)
    would then be communes of their own beside 13055, and the contour loader, which folds them
    into the city, would find bureau 13055_0001 twice."""
    from benchmarks.generate import Department, commune_codes, insee_of
    from ingestion.sources.reu import results_commune_code

    for dep in (
        Department("13", "13", "B"),
        Department("69", "69", "R"),
        Department("75", "75", "P"),
    ):
        codes = [insee_of(dep, c) for c in commune_codes(dep)]
        assert all(results_commune_code(c) == c for c in codes)
        assert {"13055", "69123", "75056"} & set(codes)  # the cities themselves stay
    assert len(commune_codes(Department("13", "13", "B"))) == 999 - 16
