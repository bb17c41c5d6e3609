"""Every source of a national campaign, generated in one geography, format-faithful, streamed.

    .venv/bin/python benchmarks/generate.py national --scale 0.01 -o /tmp/national/

`generate_national(folder, scale)` writes, for `round(69,000 x scale)` bureaux (at least 200):
- `elections/<id>.csv`: the législatives of 2022 and 2024, two rounds each, in the Ministry
  layout of their year (2022: `minint_2017_legi`, 2024: `minint_2024`) over every département,
  overseas and French people abroad (`ZZ`) included (benchmarks/generate.py); the four
  elections share each bureau's registered voters;
- `census/`: the five base-ic themes of census 2021 (zips holding `base-ic-<theme>-2021.CSV` and
  its `meta_` dictionary, as INSEE publishes them) and Filosofi 2021 (`;`, decimal comma), with
  the landing `manifest.yml` the census DAG reads — about 50,000 IRIS at scale 1.0;
- `geo/`: IRIS contours (IGN CONTOURS-IRIS 2.x attributes), bureau contours (data.gouv
  attributes, `codeBureauVote`) and commune contours, GeoJSON in WGS84 lon/lat (RFC 7946, no
  `crs` member), and the landing `manifest.yml` of the geography DAG;
- `reu/`: INSEE's `table-bv-reu` and `table-adresses-reu` (about 14 million geocoded addresses
  at 1.0);
- `roll/`: one roll extract per commune (`ListesElecteursActifs-com<code>-10-06-2024-09h30.csv`,
  the REU export's 27 columns), exactly the registered voters of each bureau on its principal
  list, living at the REU addresses of their bureau.

Consistency, which tests/unit/test_generate_national.py checks at tiny scale:
- one list of bureaux (`generate.national_bureaux`) feeds every source: the same bureau ids in
  results, REU, roll and contours;
- each commune is a rectangle on a grid of its département; its bureaux are vertical strips and
  its IRIS horizontal strips of it, so both tile the commune and IRIS cut across bureaux (the
  allocation weights are not trivial); every REU address lies strictly inside its bureau's strip;
- the census population of a commune's IRIS is its registered voters x 1.32, split over its IRIS.

Coverage follows INSEE's: census, IRIS, contours, REU and roll cover metropolitan France and the
five overseas départements (971-974, 976); the overseas collectivities (975, 977, 978, 986-988)
and French people abroad (`ZZ`) exist in the results only, as in the official files.

Deterministic from `seed` (same bytes every run); memory is bounded by one commune at a time
(the bureau list itself is a few hundred bytes per bureau), every file is written as a stream.
The values are synthetic; the layouts are the official ones (census layout: the bundled sample's
generator scripts/generate_sample_census.py, whose column lists and rows this module reuses).
"""

from __future__ import annotations

import json
import math
import random
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.generate import WRITERS, Bureau, national_bureaux, write_wide
from ingestion.sources.roll import EXPORT_COLUMNS
from scripts.generate_sample_census import (
    ID_COLUMNS,
    Iris,
    Profile,
    Theme,
    _fmt,
    meta_csv,
    themes,
)
from scrutin.warehouse.ledger import file_sha256

NATIONAL_BUREAUX = 69_000
# What generate_national wrote (scale, seed, row counts): read_national reads it back.
DESCRIPTION = "generated.json"
ELECTIONS: tuple[tuple[str, int], ...] = (
    ("2022_legi_t1", 21),
    ("2022_legi_t2", 22),
    ("2024_legi_t1", 1),
    ("2024_legi_t2", 2),
)
"""(election id, seed of its votes): four elections, as the national measurement of issue 15."""
LAYOUT_OF_YEAR = {"2022": "minint_2017_legi", "2024": "minint_2024"}
"""The Ministry published the 2022 législatives in the 2017-2022 layout (cp1252, CRLF, `ZA`..
department codes), 2024 in its own (docs/results-layouts.md)."""
NUANCES_OF_YEAR = {"2022": {"UG": "NUP"}}
"""Nuance codes that differ from the 2024 grid the generator draws from (seeds/nuance_blocs.csv:
UG exists from 2024, NUP in 2022)."""
CANDIDATES = 12
CENSUS_VINTAGE = 2021
FILOSOFI_VINTAGE = 2021
GEO_YEAR = 2023  # IRIS geography of census 2021
POPULATION_PER_ELECTOR = 1.32
ADDRESS_POINTS_PER_ELECTOR = 0.246  # 14 million REU rows for ~57 million electors
ELECTORS_PER_HOUSEHOLD = 1.6
ROLL_DATE = "10-06-2024-09h30"
NO_CENSUS_PREFIXES = ("ZZ", "975", "977", "978", "986", "987", "988")
"""Communes without IRIS, contours or REU rows: abroad and the overseas collectivities."""

# Where each département's communes are drawn (lon_min, lat_min, width, height in degrees).
METRO_BOX = (-4.5, 42.6, 12.0, 8.0)  # a 10 x 10 grid of département boxes inside Lambert-93
OVERSEAS_BOXES: dict[str, tuple[float, float, float, float]] = {
    "971": (-61.7, 15.9, 0.4, 0.4),
    "972": (-61.2, 14.4, 0.3, 0.4),
    "973": (-54.0, 3.0, 2.0, 2.0),
    "974": (55.2, -21.4, 0.5, 0.4),
    "976": (45.0, -13.0, 0.2, 0.3),
}


def registered_voters(bureau: Bureau, seed: int) -> int:
    """The registered voters of a bureau, the same in every election and source."""
    return random.Random(f"{seed}:registered:{bureau.insee}_{bureau.bv}").randint(250, 1400)


def bureau_id(bureau: Bureau) -> str:
    """The cross-source key (`<commune>_<code BV>`, what the results loader makes)."""
    return f"{bureau.insee}_{bureau.bv}"


# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class Box:
    """A lon/lat rectangle."""

    x0: float
    y0: float
    x1: float
    y1: float

    def ring(self) -> list[list[float]]:
        x0, y0, x1, y1 = (round(v, 7) for v in (self.x0, self.y0, self.x1, self.y1))
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]

    def vertical_strips(self, n: int) -> list[Box]:
        """n strips side by side (west to east): the bureaux of a commune."""
        xs = [self.x0 + (self.x1 - self.x0) * i / n for i in range(n + 1)]
        xs[-1] = self.x1
        return [Box(xs[i], self.y0, xs[i + 1], self.y1) for i in range(n)]

    def horizontal_strips(self, n: int) -> list[Box]:
        """n strips stacked (south to north): the IRIS of a commune."""
        ys = [self.y0 + (self.y1 - self.y0) * i / n for i in range(n + 1)]
        ys[-1] = self.y1
        return [Box(self.x0, ys[i], self.x1, ys[i + 1]) for i in range(n)]

    def inner_point(self, rng: random.Random) -> tuple[float, float]:
        """A point strictly inside, even after rounding to 6 decimals (REU precision)."""
        mx = (self.x1 - self.x0) * 0.02
        my = (self.y1 - self.y0) * 0.02
        return (
            round(rng.uniform(self.x0 + mx, self.x1 - mx), 6),
            round(rng.uniform(self.y0 + my, self.y1 - my), 6),
        )


@dataclass
class Commune:
    """A commune of the generated geography, with its bureaux in file order."""

    insee: str
    label: str
    dep_code: str  # INSEE département code (2A, 971)
    bureaux: list[Bureau] = field(default_factory=list)
    box: Box | None = None

    @property
    def mapped(self) -> bool:
        """Has IRIS, contours, REU rows and a roll extract (see NO_CENSUS_PREFIXES)."""
        return not self.insee.startswith(NO_CENSUS_PREFIXES)

    def bureau_boxes(self) -> list[Box]:
        assert self.box is not None
        return self.box.vertical_strips(len(self.bureaux))

    def iris(self) -> list[tuple[Iris, Box]]:
        """Its IRIS: one `Z` pseudo-IRIS for a commune of 1-2 bureaux, else n-1 `H` IRIS."""
        assert self.box is not None
        n = len(self.bureaux)
        if n < 3:
            label = f"{self.label} (commune non irisée)"
            return [(Iris(f"{self.insee}0000", self.insee, label, "Z", self.label), self.box)]
        boxes = self.box.horizontal_strips(n - 1)
        return [
            (
                Iris(
                    f"{self.insee}{i // 99 + 1:02d}{i % 99 + 1:02d}",
                    self.insee,
                    f"{self.label} quartier {i + 1}",
                    "H",
                    self.label,
                ),
                box,
            )
            for i, box in enumerate(boxes)
        ]


def national_communes(n_bureaux: int, seed: int = 1) -> list[Commune]:
    """The bureaux of `generate.national_bureaux`, grouped by commune and placed on a grid.

    A commune code can come back later in an overseas département's list (few codes, many
    bureaux): its bureaux join the commune already seen, so a commune is one place.
    """
    by_code: dict[str, Commune] = {}
    for b in national_bureaux(n_bureaux, random.Random(seed)):
        commune = by_code.get(b.insee)
        if commune is None:
            dep_code = b.insee[:3] if b.insee[:2] in ("97", "98") else b.dep.insee
            commune = by_code[b.insee] = Commune(b.insee, b.commune_label, dep_code)
        commune.bureaux.append(b)
    communes = list(by_code.values())
    _place(communes)
    return communes


def _place(communes: list[Commune]) -> None:
    """Each département gets a box, each commune a cell of its département's grid."""
    by_dep: dict[str, list[Commune]] = {}
    for c in communes:
        if c.mapped:
            by_dep.setdefault(c.dep_code, []).append(c)
    metro = sorted(d for d in by_dep if d not in OVERSEAS_BOXES)
    lon0, lat0, width, height = METRO_BOX
    grid = math.ceil(math.sqrt(len(metro))) or 1
    boxes = {
        dep: (lon0 + (i % grid) * width / grid, lat0 + (i // grid) * height / grid,
              width / grid * 0.98, height / grid * 0.98)
        for i, dep in enumerate(metro)
    }  # fmt: skip
    boxes.update({d: box for d, box in OVERSEAS_BOXES.items() if d in by_dep})
    for dep, members in by_dep.items():
        x, y, w, h = boxes[dep]
        cols = math.ceil(math.sqrt(len(members)))
        rows = math.ceil(len(members) / cols)
        cw, ch = w / cols, h / rows
        for i, c in enumerate(members):
            cx, cy = x + (i % cols) * cw, y + (i // cols) * ch
            c.box = Box(cx, cy, cx + cw, cy + ch)


# --------------------------------------------------------------------------- census


class FastProfile(Profile):
    """The sample's simulated IRIS population, with age sums from prefix sums.

    `Profile.ages` loops over every age on each call; a national file calls it ~250 times per
    IRIS, so the sums are precomputed once (same values, to float rounding).
    """

    def __init__(self, iris: Iris, total: float, integer: bool) -> None:
        super().__init__(iris, total, integer)
        self._cum: dict[str, list[float]] = {}
        for sex in ("", "H", "F"):
            cum = [0.0]
            for age in range(100):
                share = 1.0
                if sex == "H":
                    share = self.male_share[age]
                elif sex == "F":
                    share = 1 - self.male_share[age]
                cum.append(cum[-1] + self.by_age[age] * share)
            self._cum[sex] = cum

    def ages(self, lo: int, hi: int, sex: str = "") -> float:
        cum = self._cum[sex]
        top = min(hi, 99) + 1
        return cum[top] - cum[lo] if top > lo else 0.0


def iris_profiles(commune: Commune, seed: int) -> Iterator[tuple[FastProfile, Box]]:
    """The IRIS of a commune with their population: registered voters x 1.32, split at random."""
    total = POPULATION_PER_ELECTOR * sum(registered_voters(b, seed) for b in commune.bureaux)
    parts = commune.iris()
    rng = random.Random(f"{seed}:iris:{commune.insee}")
    shares = [rng.uniform(0.75, 1.25) for _ in parts]
    scale = total / sum(shares)
    for (iris, box), share in zip(parts, shares, strict=True):
        yield FastProfile(iris, share * scale, integer=iris.typ_iris == "Z"), box


def _mapped(communes: Sequence[Commune]) -> list[Commune]:
    return [c for c in communes if c.mapped]


def write_census_theme(
    target: Path, theme: Theme, communes: Sequence[Commune], seed: int, vintage: int
) -> int:
    """One base-ic zip (data member + meta dictionary), streamed; returns the IRIS rows."""
    yy = f"{vintage % 100:02d}"
    columns = theme.columns(yy)
    rows = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        info = zipfile.ZipInfo(f"{theme.file_stem}.CSV", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as raw:
            raw.write((";".join([*ID_COLUMNS, *columns]) + "\n").encode())
            for commune in _mapped(communes):
                lines = []
                for p, _box in iris_profiles(commune, seed):
                    row = theme.row(p, yy)
                    lab = "5" if p.iris.typ_iris == "Z" else "1"
                    cells = [p.iris.code_iris, p.iris.code_commune, p.iris.typ_iris, lab]
                    cells += [_fmt(max(p.out(row[c]), 0.0), p.integer) for c in columns]
                    lines.append(";".join(cells))
                    rows += 1
                raw.write(("\n".join(lines) + "\n").encode())
        meta = zipfile.ZipInfo(f"meta_{theme.file_stem}.CSV", date_time=(2024, 1, 1, 0, 0, 0))
        meta.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(meta, meta_csv(theme, vintage))
    return rows


FILOSOFI_INDICATORS = ("TP60", "Q1", "MED", "Q3", "D1", "D9", "RD", "GI", "PACT", "PPEN", "PPSOC")


def _comma(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def write_filosofi(target: Path, communes: Sequence[Commune], seed: int, vintage: int) -> int:
    """INSEE's Filosofi IRIS CSV (`;`, decimal comma): the `H` IRIS only, as published (small
    communes are not broken down); 3 % of the poverty rates masked (empty), as secrecy does."""
    yy = f"{vintage % 100:02d}"
    header = ["IRIS", "LIBIRIS", "COM", "LIBCOM", *(f"DISP_{i}{yy}" for i in FILOSOFI_INDICATORS)]
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        out.write(";".join(header) + "\n")
        for commune in _mapped(communes):
            for p, _box in iris_profiles(commune, seed):
                if p.iris.typ_iris != "H":
                    continue
                rng = random.Random(f"{seed}:filosofi:{p.iris.code_iris}")
                median = 17_000 + 30_000 * p.exec_share + rng.uniform(-1500, 1500)
                q1, q3 = median * 0.72, median * 1.33
                d1, d9 = median * 0.52, median * 1.85
                poverty = max(3.0, 30 - 60 * p.exec_share + rng.uniform(-3, 3))
                values = [
                    "" if rng.random() < 0.03 else _comma(poverty, 1),
                    str(round(q1)), str(round(median)), str(round(q3)),
                    str(round(d1)), str(round(d9)), _comma(d9 / d1, 1),
                    _comma(0.25 + p.exec_share / 3, 2), _comma(70 + rng.uniform(-8, 8), 1),
                    _comma(25 + rng.uniform(-8, 8), 1), _comma(5 + rng.uniform(-2, 4), 1),
                ]  # fmt: skip
                out.write(";".join([p.iris.code_iris, p.iris.libiris, commune.insee,
                                    commune.label, *values]) + "\n")  # fmt: skip
                rows += 1
    return rows


# --------------------------------------------------------------------------- contours


def _feature(properties: dict[str, object], box: Box) -> str:
    geometry = {"type": "Polygon", "coordinates": [box.ring()]}
    return json.dumps(
        {"type": "Feature", "properties": properties, "geometry": geometry}, ensure_ascii=False
    )


def write_geojson(target: Path, name: str, features: Iterator[str]) -> int:
    """A FeatureCollection, one feature per line (WGS84 lon/lat: no `crs` member)."""
    count = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        out.write(f'{{\n"type": "FeatureCollection",\n"name": "{name}",\n"features": [\n')
        for feature in features:
            out.write(("," if count else "") + feature + "\n")
            count += 1
        out.write("]\n}\n")
    return count


def iris_features(communes: Sequence[Commune], seed: int) -> Iterator[str]:
    for c in _mapped(communes):
        for iris, box in c.iris():
            yield _feature(
                {"INSEE_COM": c.insee, "NOM_COM": c.label, "IRIS": iris.code_iris[5:],
                 "CODE_IRIS": iris.code_iris, "NOM_IRIS": iris.libiris,
                 "TYP_IRIS": iris.typ_iris},
                box,
            )  # fmt: skip


def bureau_features(communes: Sequence[Commune]) -> Iterator[str]:
    for c in _mapped(communes):
        for b, box in zip(c.bureaux, c.bureau_boxes(), strict=True):
            yield _feature(
                {"codeBureauVote": bureau_id(b), "codeCommune": c.insee,
                 "numeroBureauVote": b.bv, "nomBureauVote": f"Bureau {int(b.bv)}"},
                box,
            )  # fmt: skip


def commune_features(communes: Sequence[Commune]) -> Iterator[str]:
    for c in _mapped(communes):
        assert c.box is not None
        yield _feature({"code_insee": c.insee, "nom": c.label}, c.box)


GEO_MANIFEST = f"""# Generated by benchmarks/national_sources.py (rectangles tiling each commune).
files:
  - path: contours-iris.geojson
    kind: iris
    geo_year: {GEO_YEAR}
  - path: contours-bureaux.geojson
    kind: bureau
  - path: communes.geojson
    kind: commune
    id_field: code_insee
"""


# --------------------------------------------------------------------------- REU and roll

REU_BV_COLUMNS = (
    "id_brut_reu", "id_brut_insee", "id_brut_miom", "code_commune", "code", "libelle_reu",
    "num_voie_reu", "voie_reu", "cp_reu", "commune_reu", "nb_adresses_initial",
    "nb_adresses_final",
)  # fmt: skip
REU_ADDRESS_COLUMNS = (
    "code_commune_ref", "reconstitution_code_commune", "id_brut_bv_reu", "id", "geo_adresse",
    "geo_type", "geo_score", "longitude", "latitude", "api_line", "nb_bv_commune", "nb_adresses",
)  # fmt: skip
STREETS = ("Rue", "Rue", "Allée", "Impasse", "Chemin", "Avenue", "Place", "Route")
STREET_NAMES = ("de la Mairie", "des Écoles", "du Moulin", "de l'Église", "Jean Jaurès",
                "Victor Hugo", "des Tilleuls", "de la Gare", "du Stade", "Pasteur")  # fmt: skip


@dataclass(frozen=True)
class AddressPoint:
    """One geocoded REU address: where it is and how many dwellings (`nb_adresses`) it holds."""

    number: int
    street: str
    lon: float
    lat: float
    dwellings: int


def postcode(commune: Commune) -> str:
    dep = commune.dep_code
    if dep in ("2A", "2B"):
        return "20" + commune.insee[2:]
    return commune.insee[:3] + "00" if len(dep) == 3 else dep + commune.insee[2:]


def bureau_points(b: Bureau, box: Box, seed: int) -> list[AddressPoint]:
    """The REU addresses of a bureau, inside its polygon; dwellings = registered voters / 1.6."""
    rng = random.Random(f"{seed}:reu:{bureau_id(b)}")
    registered = registered_voters(b, seed)
    n = max(5, round(registered * ADDRESS_POINTS_PER_ELECTOR))
    dwellings = [1] * n
    for _ in range(max(0, round(registered / ELECTORS_PER_HOUSEHOLD) - n)):
        dwellings[rng.randrange(n)] += 1
    points = []
    for i in range(n):
        lon, lat = box.inner_point(rng)
        street = f"{STREETS[i % len(STREETS)]} {STREET_NAMES[(i // 8) % len(STREET_NAMES)]}"
        points.append(AddressPoint(1 + i // 8 * 2 + i % 8, street, lon, lat, dwellings[i]))
    return points


def write_reu(folder: Path, communes: Sequence[Commune], seed: int) -> tuple[Path, Path, int]:
    """table-bv-reu.csv and table-adresses-reu.csv (UTF-8, `,`), streamed; returns the paths
    and the number of address rows."""
    bv_path = folder / "table-bv-reu.csv"
    address_path = folder / "table-adresses-reu.csv"
    rows = 0
    with (
        bv_path.open("w", encoding="utf-8", newline="") as bv_out,
        address_path.open("w", encoding="utf-8", newline="") as address_out,
    ):
        bv_out.write(",".join(REU_BV_COLUMNS) + "\n")
        address_out.write(",".join(REU_ADDRESS_COLUMNS) + "\n")
        for c in _mapped(communes):
            cp = postcode(c)
            town = c.label.upper()
            for b, box in zip(c.bureaux, c.bureau_boxes(), strict=True):
                number = int(b.bv)
                reu_id = f"{c.insee}_{number}"
                points = bureau_points(b, box, seed)
                dwellings = sum(p.dwellings for p in points)
                bv_out.write(
                    ",".join(
                        [
                            reu_id,
                            reu_id,
                            bureau_id(b),
                            c.insee,
                            str(number),
                            f"ECOLE {number}",
                            "1",
                            "RUE DE LA MAIRIE",
                            cp,
                            f'"{town}"',
                            str(dwellings),
                            str(dwellings),
                        ]
                    )
                    + "\n"
                )
                lines = []
                for i, p in enumerate(points, start=1):
                    lines.append(",".join([
                        c.insee, "1", reu_id, f"{c.insee}_{i:05d}_{number:04d}",
                        f'"{p.number} {p.street} {cp} {c.label}"', "housenumber", "0.9",
                        f"{p.lon:.6f}", f"{p.lat:.6f}", str(i), str(len(c.bureaux)),
                        str(p.dwellings),
                    ]))  # fmt: skip
                rows += len(lines)
                address_out.write("\n".join(lines) + "\n")
    return bv_path, address_path, rows


_FAKE_NAMES = ("FICTIF-GOELAND", "EXEMPLE-AJONC", "FACTICE-MENHIR", "FICTIF-LANDE",
               "EXEMPLE-GALET", "FACTICE-ECUME", "FICTIF-PHARE", "EXEMPLE-HERMINE")  # fmt: skip
_FIRST = {"F": ("Fictive", "Anémone", "Bruyère", "Marée"), "M": ("Fictif", "Galet", "Ajonc")}


def _person_pool(seed: int, size: int = 997) -> list[str]:
    """Pre-rendered identity fields (columns 4-13) of fake electors: the roll is drawn from this
    pool, so a national roll costs a string join per line, not a random person each time."""
    rng = random.Random(f"{seed}:roll-people")
    pool = []
    for _ in range(size):
        sex = "F" if rng.random() < 0.52 else "M"
        age = rng.randint(18, 95)
        born = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{2023 - age}"
        pool.append(
            ";".join(
                [
                    f'"{rng.choice(_FAKE_NAMES)}"',
                    "",
                    f'"{rng.choice(_FIRST[sex])}"',
                    f'"{sex}"',
                    f'"{born}"',
                    '"29019"',
                    '"BREST"',
                    '"29"',
                    '"FRANCE"',
                    '"Française"',
                ]
            )
        )
    return pool


def roll_file_name(commune: Commune) -> str:
    return f"ListesElecteursActifs-com{commune.insee}-{ROLL_DATE}.csv"


def write_roll(folder: Path, commune: Commune, seed: int, pool: Sequence[str]) -> int:
    """A commune's roll extract: each bureau's registered voters on the principal list, one
    household per REU dwelling (flats numbered), the rest of the electors spread over them."""
    rng = random.Random(f"{seed}:roll:{commune.insee}")
    cp = postcode(commune)
    town = commune.label.upper()
    lines = [";".join(f'"{c}"' for c in EXPORT_COLUMNS)]
    for b, box in zip(commune.bureaux, commune.bureau_boxes(), strict=True):
        tail = (f'"{b.bv}";"BUREAU {int(b.bv)}";"{commune.dep_code}-{b.circ:02d}";'
                f'"Canton n°{b.canton}";;')  # fmt: skip
        homes = []
        for p in bureau_points(b, box, seed):
            for flat in range(1, p.dwellings + 1):
                extra = f'"APPARTEMENT {flat}"' if p.dwellings > 1 else ""
                homes.append(f'"{p.number}";"{p.street.upper()}";{extra};;;"{cp}";"{town}";;')
        registered = registered_voters(b, seed)
        head = f'"{commune.insee}";"{town}";"Liste principale";'
        for i in range(registered):
            home = homes[i] if i < len(homes) else homes[rng.randrange(len(homes))]
            lines.append(head + pool[rng.randrange(len(pool))] + ";" + home + tail + str(i + 1))
    (folder / roll_file_name(commune)).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


# --------------------------------------------------------------------------- everything


def write_census(folder: Path, communes: Sequence[Commune], seed: int) -> dict[str, int]:
    """The five base-ic zips, Filosofi and the landing manifest; returns rows per file."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    entries = []
    for theme in themes(CENSUS_VINTAGE):
        target = folder / f"{theme.file_stem}_csv.zip"
        counts[target.name] = write_census_theme(target, theme, communes, seed, CENSUS_VINTAGE)
        entries.append(
            f"  - key: national-{theme.name}-{CENSUS_VINTAGE}\n    theme: {theme.name}\n"
            f"    vintage: {CENSUS_VINTAGE}\n    geo_year: {GEO_YEAR}\n    path: {target.name}\n"
            f"    sha256: {file_sha256(target)}\n    member: '{theme.file_stem}\\.CSV'\n"
        )
    filosofi = folder / f"BASE_TD_FILO_DISP_IRIS_{FILOSOFI_VINTAGE}.csv"
    counts[filosofi.name] = write_filosofi(filosofi, communes, seed, FILOSOFI_VINTAGE)
    entries.append(
        f"  - key: national-filosofi-{FILOSOFI_VINTAGE}\n    theme: filosofi\n"
        f"    vintage: {FILOSOFI_VINTAGE}\n    geo_year: {GEO_YEAR}\n    path: {filosofi.name}\n"
        f"    sha256: {file_sha256(filosofi)}\n    format: filosofi-csv\n"
        '    decimal: ","\n'
    )
    (folder / "manifest.yml").write_text(
        "# Generated by benchmarks/national_sources.py (synthetic values, INSEE layouts).\n"
        "version: 1\nfiles:\n" + "".join(entries),
        encoding="utf-8",
    )
    return counts


@dataclass
class NationalFiles:
    """What `generate_national` wrote, with row counts for the benchmark's rows/s."""

    folder: Path
    bureaux: int
    communes: int
    elections: list[tuple[str, Path]]
    rows: dict[str, int]

    @property
    def census(self) -> Path:
        return self.folder / "census"

    @property
    def geo(self) -> Path:
        return self.folder / "geo"

    @property
    def reu(self) -> Path:
        return self.folder / "reu"

    @property
    def roll(self) -> Path:
        return self.folder / "roll"


def generate_national(
    folder: Path,
    scale: float,
    *,
    seed: int = 1,
    elections: Sequence[tuple[str, int]] = ELECTIONS,
    progress: Callable[[str], None] | None = None,
) -> NationalFiles:
    """Write every source at `scale` of national size into `folder` (see the module docstring)."""
    say = progress or (lambda _msg: None)
    n_bureaux = max(200, round(NATIONAL_BUREAUX * scale))
    communes = national_communes(n_bureaux, seed)
    places = [b for c in communes for b in c.bureaux]
    rows: dict[str, int] = {}
    written: list[tuple[str, Path]] = []
    (folder / "elections").mkdir(parents=True, exist_ok=True)
    for election_id, vote_seed in elections:
        year = election_id[:4]
        layout = LAYOUT_OF_YEAR.get(year, "minint_2024")
        path = folder / "elections" / f"{election_id}.csv"
        with path.open("w", encoding=WRITERS[layout].encoding, newline="") as fh:
            rows[path.name] = write_wide(
                fh,
                layout,
                places,
                CANDIDATES,
                vote_seed,
                registered=lambda b: registered_voters(b, seed),
                nuances=NUANCES_OF_YEAR.get(year),
            )
        written.append((election_id, path))
    say(f"results: {len(written)} elections x {len(places):,} bureaux")
    rows |= write_census(folder / "census", communes, seed)
    say(f"census: {rows['BASE_TD_FILO_DISP_IRIS_2021.csv']:,} Filosofi IRIS")
    geo = folder / "geo"
    geo.mkdir(parents=True, exist_ok=True)
    rows["contours-iris.geojson"] = write_geojson(
        geo / "contours-iris.geojson", "contours_iris", iris_features(communes, seed)
    )
    rows["contours-bureaux.geojson"] = write_geojson(
        geo / "contours-bureaux.geojson", "contours_bureaux", bureau_features(communes)
    )
    rows["communes.geojson"] = write_geojson(
        geo / "communes.geojson", "communes", commune_features(communes)
    )
    (geo / "manifest.yml").write_text(GEO_MANIFEST, encoding="utf-8")
    say(f"contours: {rows['contours-iris.geojson']:,} IRIS")
    reu = folder / "reu"
    reu.mkdir(parents=True, exist_ok=True)
    _bv, _addresses, address_rows = write_reu(reu, communes, seed)
    rows["table-bv-reu.csv"] = sum(len(c.bureaux) for c in _mapped(communes))
    rows["table-adresses-reu.csv"] = address_rows
    say(f"REU: {address_rows:,} addresses")
    roll = folder / "roll"
    roll.mkdir(parents=True, exist_ok=True)
    pool = _person_pool(seed)
    rows["roll"] = sum(write_roll(roll, c, seed, pool) for c in _mapped(communes))
    say(f"roll: {rows['roll']:,} electors")
    files = NationalFiles(folder, len(places), len(communes), written, rows)
    (folder / DESCRIPTION).write_text(
        json.dumps(
            {
                "scale": scale,
                "seed": seed,
                "bureaux": files.bureaux,
                "communes": files.communes,
                "elections": [[e, p.name] for e, p in written],
                "rows": rows,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return files


def read_national(folder: Path) -> tuple[float | None, NationalFiles]:
    """What an earlier `generate_national` wrote in `folder`, and its scale, so a benchmark can
    load the same files again without generating them. Folders written before the description
    existed are described by counting their lines and features (slower; the scale is unknown)."""
    described = folder / DESCRIPTION
    if described.exists():
        meta = json.loads(described.read_text(encoding="utf-8"))
        elections = [(e, folder / "elections" / name) for e, name in meta["elections"]]
        files = NationalFiles(folder, meta["bureaux"], meta["communes"], elections, meta["rows"])
        return float(meta["scale"]), files
    return None, _recount(folder)


def _recount(folder: Path) -> NationalFiles:
    def lines(path: Path, member: str | None = None) -> int:
        if member is None:
            with path.open("rb") as fh:
                return sum(1 for _ in fh) - 1
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            return sum(1 for _ in fh) - 1

    def features(path: Path) -> int:
        with path.open("rb") as fh:
            return sum(1 for line in fh if b'"Feature"' in line)

    known = [e for e, _ in ELECTIONS]
    elections = [(e, folder / "elections" / f"{e}.csv") for e in known]
    elections = [(e, p) for e, p in elections if p.exists()]
    if not elections:
        raise FileNotFoundError(f"{folder}: no generated elections (elections/<id>.csv)")
    rows = {p.name: lines(p) for _, p in elections}
    for path in sorted((folder / "census").glob("*")):
        if path.suffix == ".zip":
            rows[path.name] = lines(path, path.name.removesuffix("_csv.zip") + ".CSV")
        elif path.suffix == ".csv":
            rows[path.name] = lines(path)
    for path in sorted((folder / "geo").glob("*.geojson")):
        rows[path.name] = features(path)
    for path in sorted((folder / "reu").glob("*.csv")):
        rows[path.name] = lines(path)
    extracts = sorted((folder / "roll").glob("*.csv"))
    rows["roll"] = sum(lines(p) for p in extracts)
    from ingestion.sources.elections import iter_results

    ids = {row.bureau.bureau_id for row in iter_results(elections[0][1])}
    communes = len({i.rsplit("_", 1)[0] for i in ids})
    return NationalFiles(folder, len(ids), communes, elections, rows)
