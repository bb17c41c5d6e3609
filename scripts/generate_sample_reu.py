"""Generate the SYNTHETIC REU tables of the bundled sample (deterministic: same inputs, same bytes).

The real REU extract we ship (data/sample/reu/addresses_sample.csv) covers three communes that are
not in the bundled results, so nothing can be joined on it. This script writes, for the 35 communes
and 201 bureaux of data/sample/elections/circos23-tour1.csv, files in the official layout:

- data/sample/reu/table-bv-reu-synthetic.csv: one row per bureau (`table-bv-reu` columns);
- data/sample/reu/table-adresses-reu-synthetic.csv.gz: address points (`table-adresses-reu`
  columns, gzip-compressed to keep the repository small; the loader reads .gz transparently).

How the points are made (all of it is invented; only the polygons are real):
- Brest (29019) and Gouesnou (29061): uniformly inside the bureau's official polygon
  (data/sample/geo/BureauxVoteBrest.geojson);
- other communes: in a disc around an approximate commune centre (written below from general
  knowledge, a few km accurate at best), one angular sector per bureau so bureaux do not overlap;
- Σ nb_adresses of a bureau = round(registered voters of the 1st round / 1.6), a plausible count
  of distinct addresses; points carry 1 address (houses) up to ~30 (blocks of flats, Brest).
Street names, numbers, BAN ids and scores are invented.
Usage: `python scripts/generate_sample_reu.py`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import random
from collections import defaultdict
from pathlib import Path

from shapely.geometry import Point, shape
from shapely.prepared import prep

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "data" / "sample" / "elections" / "circos23-tour1.csv"
POLYGONS = ROOT / "data" / "sample" / "geo" / "BureauxVoteBrest.geojson"
OUT_DIR = ROOT / "data" / "sample" / "reu"
BV_FILE = OUT_DIR / "table-bv-reu-synthetic.csv"
ADDRESS_FILE = OUT_DIR / "table-adresses-reu-synthetic.csv.gz"
SEED = 2024
ADDRESSES_PER_VOTER = 1 / 1.6

BV_COLUMNS = (
    "id_brut_reu",
    "id_brut_insee",
    "id_brut_miom",
    "code_commune",
    "code",
    "libelle_reu",
    "num_voie_reu",
    "voie_reu",
    "cp_reu",
    "commune_reu",
    "nb_adresses_initial",
    "nb_adresses_final",
)
ADDRESS_COLUMNS = (
    "code_commune_ref",
    "reconstitution_code_commune",
    "id_brut_bv_reu",
    "id",
    "geo_adresse",
    "geo_type",
    "geo_score",
    "longitude",
    "latitude",
    "api_line",
    "nb_bv_commune",
    "nb_adresses",
)

# code: (approximate centre lon, lat, postcode). Approximate, from general knowledge.
COMMUNES: dict[str, tuple[float, float, str]] = {
    "29011": (-4.514, 48.428, "29820"),
    "29015": (-4.503, 48.499, "29860"),
    "29017": (-4.715, 48.474, "29810"),
    "29019": (-4.486, 48.390, "29200"),
    "29035": (-4.543, 48.508, "29870"),
    "29040": (-4.771, 48.360, "29217"),
    "29047": (-4.373, 48.534, "29860"),
    "29061": (-4.464, 48.452, "29850"),
    "29069": (-4.558, 48.425, "29820"),
    "29076": (-4.566, 48.466, "29290"),
    "29084": (-4.957, 48.397, "29259"),
    "29093": (-4.418, 48.572, "29260"),
    "29095": (-4.371, 48.474, "29860"),
    "29098": (-4.768, 48.447, "29810"),
    "29099": (-4.654, 48.565, "29830"),
    "29100": (-4.405, 48.552, "29260"),
    "29109": (-4.737, 48.537, "29840"),
    "29112": (-4.749, 48.473, "29840"),
    "29119": (-4.635, 48.470, "29290"),
    "29126": (-4.398, 48.544, "29260"),
    "29130": (-4.642, 48.375, "29280"),
    "29160": (-4.427, 48.502, "29860"),
    "29177": (-4.729, 48.434, "29810"),
    "29178": (-4.658, 48.541, "29830"),
    "29190": (-4.718, 48.341, "29217"),
    "29196": (-4.601, 48.525, "29830"),
    "29201": (-4.722, 48.402, "29810"),
    "29208": (-4.688, 48.530, "29830"),
    "29209": (-4.452, 48.534, "29860"),
    "29212": (-4.619, 48.381, "29280"),
    "29221": (-4.763, 48.508, "29840"),
    "29257": (-4.606, 48.567, "29830"),
    "29260": (-4.621, 48.434, "29290"),
    "29282": (-4.722, 48.366, "29217"),
    "29299": (-4.607, 48.500, "29290"),
}

STREET_KINDS = ("Rue", "Rue", "Rue", "Allée", "Impasse", "Chemin", "Avenue", "Place", "Route")
STREET_NAMES = (
    "des Genêts",
    "des Ajoncs",
    "des Hortensias",
    "de la Mer",
    "du Stade",
    "de l'École",
    "des Mouettes",
    "du Moulin",
    "de la Fontaine",
    "des Chênes",
    "du Menez",
    "de Kerbrat",
    "de Kervao",
    "de Penhoat",
    "des Camélias",
    "du Vieux Bourg",
    "de la Source",
    "des Cormorans",
    "de Kerhuel",
    "des Bruyères",
)


def read_bureaux() -> list[tuple[str, str, str, int]]:
    """(code commune, commune name, code BV as in the results, registered voters), file order."""
    with RESULTS.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        return [(r[2], r[3], r[4], int(r[5])) for r in reader]


def read_polygons() -> dict[tuple[str, int], tuple[object, str]]:
    """(commune, bureau number) -> (shapely polygon, polling place label)."""
    data = json.loads(POLYGONS.read_text(encoding="utf-8"))
    return {
        (f["properties"]["DEPCO"], int(f["properties"]["BVOTE"])): (
            shape(f["geometry"]),
            str(f["properties"]["LLIEU"]).upper(),
        )
        for f in data["features"]
    }


def address_counts(rng: random.Random, target: int, urban: bool) -> list[int]:
    """nb_adresses of each point of a bureau, summing exactly to `target`."""
    counts: list[int] = []
    total = 0
    while total < target:
        roll = rng.random()
        if urban:
            n = 1 if roll < 0.55 else rng.randint(2, 4) if roll < 0.8 else rng.randint(5, 30)
        else:
            n = 1 if roll < 0.7 else 2 if roll < 0.9 else rng.randint(3, 6)
        n = min(n, target - total)
        counts.append(n)
        total += n
    return counts


def point_in_polygon(rng: random.Random, polygon: object) -> tuple[float, float]:
    minx, miny, maxx, maxy = polygon.bounds  # type: ignore[attr-defined]
    prepared = prep(polygon)
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if prepared.contains(Point(x, y)):
            return x, y


def point_in_sector(
    rng: random.Random, centre: tuple[float, float], radius_km: float, sector: int, sectors: int
) -> tuple[float, float]:
    angle = (sector + rng.random()) * 2 * math.pi / sectors
    distance = radius_km * math.sqrt(rng.random())
    lon0, lat0 = centre
    dlat = distance * math.sin(angle) / 111.0
    dlon = distance * math.cos(angle) / (111.0 * math.cos(math.radians(lat0)))
    return lon0 + dlon, lat0 + dlat


def main() -> None:  # noqa: PLR0915 -- one linear recipe, easier to audit in one piece
    rng = random.Random(SEED)
    bureaux = read_bureaux()
    polygons = read_polygons()
    per_commune: dict[str, int] = defaultdict(int)
    for code_commune, _, _, _ in bureaux:
        per_commune[code_commune] += 1
    streets: dict[str, list[str]] = {}
    bv_rows: list[list[str]] = []
    address_rows: list[list[str]] = []
    sector_of: dict[str, int] = defaultdict(int)
    api_line = 0
    for code_commune, name, code_raw, registered in bureaux:
        number = int(code_raw)
        lon0, lat0, postcode = COMMUNES[code_commune]
        if code_commune not in streets:
            streets[code_commune] = [
                f"{rng.choice(STREET_KINDS)} {rng.choice(STREET_NAMES)}" for _ in range(60)
            ]
        polygon = polygons.get((code_commune, number))
        urban = code_commune == "29019"
        target = round(registered * ADDRESSES_PER_VOTER)
        counts = address_counts(rng, target, urban)
        radius = 0.6 + 0.4 * math.sqrt(per_commune[code_commune])
        sector = sector_of[code_commune]
        sector_of[code_commune] += 1
        id_reu = f"{code_commune}_{number}"
        place = (
            polygon[1] if polygon else ("MAIRIE" if number == 1 else f"SALLE MUNICIPALE {number}")
        )
        bv_rows.append(
            [
                id_reu,
                id_reu,
                f"{code_commune}_{number:04d}",
                code_commune,
                str(number),
                place,
                str(rng.randint(1, 40)),
                rng.choice(streets[code_commune]).upper(),
                postcode,
                name.upper(),
                str(target + rng.randint(0, max(1, target // 50))),
                str(target),
            ]
        )
        used: set[tuple[int, str]] = set()
        for n in counts:
            if polygon:
                lon, lat = point_in_polygon(rng, polygon[0])
            else:
                lon, lat = point_in_sector(
                    rng, (lon0, lat0), radius, sector, per_commune[code_commune]
                )
            street_index = rng.randrange(len(streets[code_commune]))
            street = streets[code_commune][street_index]
            while True:
                housenumber = rng.randint(1, 180)
                if (housenumber, street) not in used:
                    used.add((housenumber, street))
                    break
            roll = rng.random()
            geo_type = "housenumber" if roll < 0.95 else "street" if roll < 0.99 else "locality"
            label = (
                f"{housenumber} {street} {postcode} {name}"
                if geo_type == "housenumber"
                else f"{street} {postcode} {name}"
            )
            score = rng.uniform(0.75, 0.97) if geo_type == "housenumber" else rng.uniform(0.4, 0.7)
            api_line += 1
            address_rows.append(
                [
                    code_commune,
                    "1",
                    id_reu,
                    f"{code_commune}_{street_index + 1:04d}_{housenumber:05d}",
                    label,
                    geo_type,
                    f"{score:.2f}",
                    f"{lon:.6f}",
                    f"{lat:.6f}",
                    str(api_line),
                    str(per_commune[code_commune]),
                    str(n),
                ]
            )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with BV_FILE.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(BV_COLUMNS)
        writer.writerows(bv_rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ADDRESS_COLUMNS)
    writer.writerows(address_rows)
    # mtime=0 and no file name in the header: the same rows give the same bytes.
    with (
        ADDRESS_FILE.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(buffer.getvalue().encode("utf-8"))
    total = sum(int(r[-1]) for r in address_rows)
    print(
        f"{BV_FILE.name}: {len(bv_rows)} bureaux; {ADDRESS_FILE.name}: {len(address_rows)} points, "
        f"Σ nb_adresses {total}"
    )


if __name__ == "__main__":
    main()
