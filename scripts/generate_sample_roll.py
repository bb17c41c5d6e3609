"""Generate the SYNTHETIC roll extracts of the bundled sample (deterministic: same bytes every run).

A campaign obtains its commune's electoral roll (article L37) as an export of the REU; this script
writes two such files for sample communes, with obviously fake people:

- data/sample/roll/ListesElecteursActifs-com29061-10-06-2024-09h30.csv (Gouesnou, 6 bureaux);
- data/sample/roll/ListesElecteursActifs-com29084-10-06-2024-09h31.csv (Ile-Molène, 1 bureau).

Layout: the 27 lower-case columns, `;` separator, UTF-8, LF, every non-empty field quoted except
the trailing order number, dates DD/MM/YYYY (see docs/electoral-roll.md for what was checked).
Content: per bureau exactly the registered voters of the 1st round of the 2024 legislative
election (principal list, LP), living at the addresses of the synthetic REU address table of the
same bureau (one household per REU address, flats numbered when a point has several), plus a few
EU nationals on the complementary lists (LCM, some also on LCE). Ages follow a plausible adult
distribution at the extract date (10 June 2024); 1 % are born abroad with an unknown day and month
(`00/00/YYYY`). Names are invented and marked: FICTIF-, EXEMPLE-, FACTICE-.

Usage: `python scripts/generate_sample_roll.py` (after scripts/generate_sample_reu.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
import re
from collections import defaultdict
from pathlib import Path

from ingestion.sources.roll import EXPORT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "data" / "sample" / "elections" / "circos23-tour1.csv"
REU_ADDRESSES = ROOT / "data" / "sample" / "reu" / "table-adresses-reu-synthetic.csv.gz"
OUT_DIR = ROOT / "data" / "sample" / "roll"
SEED = 1958
REFERENCE = dt.date(2024, 6, 10)
FILES = {
    "29061": "ListesElecteursActifs-com29061-10-06-2024-09h30.csv",
    "29084": "ListesElecteursActifs-com29084-10-06-2024-09h31.csv",
}
CIRCONSCRIPTION = {"29061": "29-02", "29084": "29-03"}
CANTON = {"29061": "Canton de Brest-4", "29084": "Canton de Saint-Renan"}

COLUMNS = EXPORT_COLUMNS

PREFIXES = ("FICTIF", "EXEMPLE", "FACTICE")
WORDS = (
    "GOELAND", "AJONC", "BRUYERE", "GOEMON", "KORRIGAN", "MENHIR", "DOLMEN", "LANDE", "FALAISE",
    "GALET", "ECUME", "MAREE", "PHARE", "CRIQUE", "GREVE", "BRUME", "EMBRUN", "HERMINE", "CORMORAN",
    "FOU-DE-BASSAN", "MACAREUX", "SARDINE", "LANGOUSTINE", "CHATAIGNIER", "SUREAU", "AUBEPINE",
)  # fmt: skip
FIRST_F = ("Fictive", "Exemplaire", "Anémone", "Bruyère", "Écume", "Marée", "Brume", "Salicorne")
FIRST_M = ("Fictif", "Factice", "Ajonc", "Goémon", "Galet", "Embrun", "Menhir", "Varech")
BIRTH_PLACES = (
    ("29019", "BREST", "29"),
    ("29232", "QUIMPER", "29"),
    ("35238", "RENNES", "35"),
    ("75056", "PARIS", "75"),
    ("22278", "SAINT-BRIEUC", "22"),
    ("56121", "LORIENT", "56"),
)
ABROAD = (("", "DAKAR", "99", "SENEGAL"), ("", "CASABLANCA", "99", "MAROC"))
EU_NATIONALS = (("Allemande", "ALLEMAGNE", "HAMBURG"), ("Belge", "BELGIQUE", "LIEGE"))
# Share of electors per age band, and the ages each band spans.
AGE_BANDS = ((0.10, 18, 24), (0.14, 25, 34), (0.24, 35, 49), (0.25, 50, 64), (0.15, 65, 74),
             (0.12, 75, 98))  # fmt: skip
_ADDRESS = re.compile(r"(?:(\d+) )?(.+) (\d{5}) (.+)")


def registered_per_bureau() -> dict[tuple[str, int], tuple[str, int]]:
    """(commune, bureau number) -> (commune name, registered voters, 1st round)."""
    with RESULTS.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        return {(r[2], int(r[4])): (r[3], int(r[5])) for r in reader if r[2] in FILES}


def reu_points() -> dict[tuple[str, int], list[tuple[str, str, str, int]]]:
    """(commune, bureau number) -> [(number, street, postcode, nb_adresses)] of the REU sample."""
    points: dict[tuple[str, int], list[tuple[str, str, str, int]]] = defaultdict(list)
    with gzip.open(REU_ADDRESSES, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            commune, _, number = row["id_brut_bv_reu"].partition("_")
            if commune not in FILES:
                continue
            match = _ADDRESS.fullmatch(row["geo_adresse"])
            assert match is not None, row["geo_adresse"]
            housenumber, street, postcode, _ = match.groups()
            points[(commune, int(number))].append(
                (housenumber or "", street, postcode, int(row["nb_adresses"]))
            )
    return points


def birth_date(rng: random.Random) -> str:
    pick, cumulative, span = rng.random(), 0.0, AGE_BANDS[-1][1:]
    for share, low, high in AGE_BANDS:
        cumulative += share
        if pick <= cumulative:
            span = (low, high)
            break
    age = rng.randint(*span)
    born = REFERENCE.replace(year=REFERENCE.year - age - 1) + dt.timedelta(days=rng.randint(1, 364))
    return born.strftime("%d/%m/%Y")


def person(rng: random.Random) -> dict[str, str]:
    sex = "F" if rng.random() < 0.52 else "M"
    first = FIRST_F if sex == "F" else FIRST_M
    surname = f"{rng.choice(PREFIXES)}-{rng.choice(WORDS)}"
    row = {
        "nom de naissance": surname,
        "prénoms": " ".join(rng.sample(first, rng.choice((1, 2, 2, 3)))),
        "sexe": sex,
        "libellé nationalité": "Française",
    }
    if rng.random() < 0.01:
        _, city, dep, country = rng.choice(ABROAD)
        born = birth_date(rng)
        row |= {
            "date de naissance": f"00/00/{born[-4:]}",
            "libellé commune de naissance": city,
            "code département de naissance": dep,
            "pays de naissance": country,
        }
    else:
        code, city, dep = rng.choice(BIRTH_PLACES)
        row |= {
            "date de naissance": birth_date(rng),
            "code commune de naissance": code,
            "libellé commune de naissance": city,
            "code département de naissance": dep,
            "pays de naissance": "FRANCE",
        }
    if sex == "F" and rng.random() < 0.3:
        row["nom d'usage"] = f"{rng.choice(PREFIXES)}-{rng.choice(WORDS)}"
    return row


def bureau_rows(
    rng: random.Random,
    *,
    commune: str,
    name: str,
    number: int,
    registered: int,
    points: list[tuple[str, str, str, int]],
) -> list[dict[str, str]]:
    households: list[dict[str, str]] = []
    for housenumber, street, postcode, flats in points:
        for flat in range(1, flats + 1):
            households.append(
                {
                    "numéro de voie": housenumber,
                    "libellé de voie": street.upper(),
                    "complément 1": f"APPARTEMENT {flat}" if flats > 1 else "",
                    "code postal": postcode,
                    "commune": name.upper(),
                }
            )
    # One elector per household, the rest spread at random: exactly `registered` on the LP.
    sizes = [1] * len(households)
    for _ in range(registered - len(households)):
        sizes[rng.randrange(len(households))] += 1
    common = {
        "code du l'ugle": commune,
        "libellé de l'ugle": name.upper(),
        "code du bureau de vote": f"{number:04d}",
        "libellé du bureau de vote": f"BUREAU {number}",
        "code circonscription législative du bureau de vote": CIRCONSCRIPTION[commune],
        "libellé canton du bureau de vote": CANTON[commune],
    }
    rows: list[dict[str, str]] = []
    for household, size in zip(households, sizes, strict=True):
        for _ in range(size):
            rows.append(
                common | household | person(rng) | {"libellé du type de liste": "Liste principale"}
            )
    # EU nationals: on the municipal complementary list, one in two also on the European one.
    for i in range(max(1, registered // 250)):
        nationality, country, city = EU_NATIONALS[i % len(EU_NATIONALS)]
        someone = person(rng) | {
            "libellé nationalité": nationality,
            "pays de naissance": country,
            "libellé commune de naissance": city,
            "code commune de naissance": "",
            "code département de naissance": "99",
        }
        home = rng.choice(households)
        lists = ["Liste complémentaire municipale"]
        if i % 2 == 0:
            lists.append("Liste complémentaire européenne")
        for list_label in lists:
            rows.append(common | home | someone | {"libellé du type de liste": list_label})
    rows.sort(key=lambda r: (r["libellé du type de liste"], r["nom de naissance"], r["prénoms"]))
    for order, row in enumerate(rows, start=1):
        row["numéro d'ordre dans le bureau de vote"] = str(order)
    return rows


def render(rows: list[dict[str, str]]) -> str:
    """The export's quoting: every non-empty field quoted except the trailing order number."""
    out = io.StringIO()
    out.write(";".join(f'"{c}"' for c in COLUMNS) + "\n")
    last = COLUMNS[-1]
    for row in rows:
        fields = []
        for column in COLUMNS:
            value = row.get(column, "")
            fields.append(value if (column == last or not value) else f'"{value}"')
        out.write(";".join(fields) + "\n")
    return out.getvalue()


def main() -> None:
    rng = random.Random(SEED)
    registered = registered_per_bureau()
    points = reu_points()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for commune, file_name in FILES.items():
        rows: list[dict[str, str]] = []
        for (code, number), (name, voters) in sorted(registered.items()):
            if code == commune:
                rows += bureau_rows(
                    rng,
                    commune=commune,
                    name=name,
                    number=number,
                    registered=voters,
                    points=points[(code, number)],
                )
        (OUT_DIR / file_name).write_text(render(rows), encoding="utf-8", newline="")
        lp = sum(r["libellé du type de liste"] == "Liste principale" for r in rows)
        print(f"{file_name}: {len(rows)} lines, {lp} on the principal list")


if __name__ == "__main__":
    main()
