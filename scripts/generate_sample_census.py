"""Generate the bundled census sample (deterministic): `python scripts/generate_sample_census.py`.

Writes into `data/sample/census/`:
- `iris_sample.csv`: the IRIS of the 35 communes of the bundled results (code_iris,
  code_commune, libiris, typ_iris). Real IRIS codes and labels from the real Filosofi 2015 file
  for the communes it covers (Brest 58, Plouzané 5); every other commune is one pseudo-IRIS
  `<commune>0000`, TYP_IRIS `Z`, as INSEE codes communes without IRIS;
- the five base-ic themes of census 2021 (geography 2023) for those IRIS, as INSEE publishes them:
  a zip `base-ic-<theme>-2021_csv.zip` holding `base-ic-<theme>-2021.CSV` (`;`, decimal `.`,
  non-integer estimates for irisées communes, integer counts for the Z pseudo-IRIS) and a
  `meta_base-ic-<theme>-2021.CSV` dictionary. VALUES ARE SYNTHETIC (plausible, coherent across
  themes: one simulated population per IRIS feeds all five files);
- `revenus-2015-extract.csv`: the real Filosofi 2015 lines of those communes, bytes unchanged;
- `manifest.yml`: the landing manifest (registry schema) with each file's sha256.

And into `tests/fixtures/census/`: the population and activity themes of census 2022 (PCS 2020
`STAT_GSEC` columns) for the same IRIS, for the crosswalk tests.

Deterministic: the same inputs give the same bytes (seeded per IRIS, fixed zip timestamps).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample" / "census"
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "census"
RESULTS_FILE = ROOT / "data" / "sample" / "elections" / "circos23-tour1.csv"
# The shared test kit sits beside the checkout (shared/data/real/README.md, section 3.2).
FILOSOFI_2015 = ROOT.parent / "shared" / "data" / "real" / "insee" / "revenus-2015.csv"
FILOSOFI_EXTRACT = "revenus-2015-extract.csv"

# The 35 communes of the bundled results (shared test kit README, section 2.3).
_SAMPLE_NUMBERS = (
    *(11, 15, 17, 19, 35, 40, 47, 61, 69, 76, 84, 93, 95, 98, 99, 100, 109, 112, 119),
    *(126, 130, 160, 177, 178, 190, 196, 201, 208, 209, 212, 221, 257, 260, 282, 299),
)
SAMPLE_COMMUNES = tuple(f"29{n:03d}" for n in _SAMPLE_NUMBERS)

ZIP_DATE = (2024, 1, 1, 0, 0, 0)
SEED = "scrutin-census-sample-v1"

# ---- the published headers ------------------------------------------------------------------
# Population: the complete published header (76 columns; same layout 2020-2022, PCS columns
# CS1..CS8 up to 2021, STAT_GSEC.. from 2022). The four other themes keep the published
# identifier block and a documented subset of their published variables, in published order
# (docs/census.md lists the sources).

ID_COLUMNS = ("IRIS", "COM", "TYP_IRIS", "LAB_IRIS")
PCS2003 = ("CS1", "CS2", "CS3", "CS4", "CS5", "CS6", "CS7", "CS8")
PCS2020 = (
    "STAT_GSEC11_21",
    "STAT_GSEC12_22",
    "STAT_GSEC13_23",
    "STAT_GSEC14_24",
    "STAT_GSEC15_25",
    "STAT_GSEC16_26",
    "STAT_GSEC32",
    "STAT_GSEC40",
)
PCS2020_EMPLOYED = tuple(f"STAT_GSEC1{g}" for g in range(1, 7))
AGE_FINE = ("0002", "0305", "0610", "1117", "1824", "2539", "4054", "5564", "6579", "80P")
AGE_COARSE = ("0014", "1529", "3044", "4559", "6074", "75P")
AGE_WIDE = ("0019", "2064", "65P")


def _age_range(band: str) -> tuple[int, int]:
    if band.endswith("P"):
        return int(band[:-1]), 120
    return int(band[:2]), int(band[2:])


@dataclass(frozen=True)
class Iris:
    code_iris: str
    code_commune: str
    libiris: str
    typ_iris: str
    libcom: str


# ---- the IRIS list --------------------------------------------------------------------------


def commune_names() -> dict[str, str]:
    with RESULTS_FILE.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        return {row["Code commune"]: row["Libellé commune"] for row in reader}


def commune_electors() -> dict[str, int]:
    out: dict[str, int] = {}
    with RESULTS_FILE.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            out[row["Code commune"]] = out.get(row["Code commune"], 0) + int(row["Inscrits"])
    return out


def filosofi_lines(source: Path) -> tuple[str, list[str]]:
    """Header and the lines of the sample communes, bytes unchanged (LF kept)."""
    with source.open(encoding="utf-8", newline="") as fh:
        header = fh.readline()
        lines = [line for line in fh if line[:5] in SAMPLE_COMMUNES]
    return header, lines


def sample_iris(filosofi_extract: Path) -> list[Iris]:
    names = commune_names()
    real: dict[str, list[Iris]] = {}
    with filosofi_extract.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            real.setdefault(row["COM"], []).append(
                Iris(row["IRIS"], row["COM"], row["LIBIRIS"], "H", names[row["COM"]])
            )
    out: list[Iris] = []
    for code in SAMPLE_COMMUNES:
        if code in real:
            out.extend(sorted(real[code], key=lambda i: i.code_iris))
        else:
            label = f"{names[code]} (commune non irisée)"
            out.append(Iris(f"{code}0000", code, label, "Z", names[code]))
    return out


# ---- one simulated population per IRIS -------------------------------------------------------


class Profile:
    """A plausible population for one IRIS; every theme is derived from it."""

    def __init__(self, iris: Iris, total: float, integer: bool) -> None:
        self.iris = iris
        self.integer = integer
        rng = random.Random(f"{SEED}:{iris.code_iris}")
        self.rng = rng
        young = rng.uniform(0.7, 1.4)  # student / family areas vs retired areas
        old = rng.uniform(0.6, 1.6)
        weights = []
        for age in range(100):
            base = 1.0
            if age < 20:
                base *= 0.95 * young
            elif age < 30:
                base *= 1.1 * young
            elif age >= 60:
                base *= old * (1.0 if age < 80 else 0.5 if age < 90 else 0.12)
            weights.append(base * rng.uniform(0.85, 1.15))
        scale = total / sum(weights)
        self.by_age = [w * scale for w in weights]
        self.male_share = [0.51 if a < 50 else 0.48 if a < 75 else 0.38 for a in range(100)]
        self.unemployment = rng.uniform(0.05, 0.16)
        self.exec_share = rng.uniform(0.08, 0.35)
        self.owner_share = rng.uniform(0.25, 0.85)
        self.hlm_share = rng.uniform(0.0, 0.45) * (1 - self.owner_share)

    def out(self, value: float) -> float:
        return float(round(value)) if self.integer else value

    def ages(self, lo: int, hi: int, sex: str = "") -> float:
        total = 0.0
        for age in range(lo, min(hi, 99) + 1):
            share = 1.0
            if sex == "H":
                share = self.male_share[age]
            elif sex == "F":
                share = 1 - self.male_share[age]
            total += self.by_age[age] * share
        return total

    def split(self, total: float, weights: Iterable[float]) -> list[float]:
        ws = [max(w, 0.0) * self.rng.uniform(0.8, 1.2) for w in weights]
        s = sum(ws) or 1.0
        return [total * w / s for w in ws]


def _fmt(value: float, integer: bool) -> str:
    if integer:
        return str(round(value))
    if value == 0:
        return "0"
    return format(value, ".15g")


# ---- themes ------------------------------------------------------------------------------------

Row = dict[str, float]


def population_row(p: Profile, yy: str, pcs: tuple[str, ...]) -> Row:
    r: Row = {}
    total = p.ages(0, 120)
    r[f"P{yy}_POP"] = total
    for band in AGE_FINE + AGE_COARSE + AGE_WIDE:
        r[f"P{yy}_POP{band}"] = p.ages(*_age_range(band))
    r[f"P{yy}_POPH"] = p.ages(0, 120, "H")
    for band in AGE_COARSE + AGE_WIDE:
        r[f"P{yy}_H{band}"] = p.ages(*_age_range(band), "H")
    r[f"P{yy}_POPF"] = p.ages(0, 120, "F")
    for band in AGE_COARSE + AGE_WIDE:
        r[f"P{yy}_F{band}"] = p.ages(*_age_range(band), "F")
    retired = p.ages(60, 120) * 0.93
    for group, sex in (("POP15P", ""), ("H15P", "H"), ("F15P", "F")):
        base = p.ages(15, 120, sex)
        r[f"C{yy}_{group}"] = base
        active_like = base - retired * (base / max(p.ages(15, 120), 1e-9))
        shares = [0.004, 0.035, p.exec_share, 0.16, 0.17, 0.12]
        parts = p.split(active_like * 0.72, shares)
        rest = base - sum(parts)
        retired_part = min(retired * (base / max(p.ages(15, 120), 1e-9)), rest)
        for code, value in zip(pcs, [*parts, retired_part, rest - retired_part], strict=True):
            r[f"C{yy}_{group}_{code}"] = value
    r[f"P{yy}_POP_FR"] = total * 0.965
    r[f"P{yy}_POP_ETR"] = total * 0.035
    r[f"P{yy}_POP_IMM"] = total * 0.052
    r[f"P{yy}_PHORMEN"] = total * 0.015
    r[f"P{yy}_PMEN"] = total - r[f"P{yy}_PHORMEN"]
    return r


POPULATION_ORDER = (
    "POP",
    *(f"POP{b}" for b in AGE_FINE + AGE_COARSE + AGE_WIDE),
    "POPH",
    *(f"H{b}" for b in AGE_COARSE + AGE_WIDE),
    "POPF",
    *(f"F{b}" for b in AGE_COARSE + AGE_WIDE),
)


def population_columns(yy: str, pcs: tuple[str, ...]) -> list[str]:
    cols = [f"P{yy}_{c}" for c in POPULATION_ORDER]
    for group in ("POP15P", "H15P", "F15P"):
        cols += [f"C{yy}_{group}", *(f"C{yy}_{group}_{code}" for code in pcs)]
    cols += [f"P{yy}_{c}" for c in ("POP_FR", "POP_ETR", "POP_IMM", "PMEN", "PHORMEN")]
    return cols


def activite_row(p: Profile, yy: str, pcs_act: tuple[str, ...]) -> Row:
    r: Row = {}
    rates = {"1524": 0.42, "2554": 0.9, "5564": 0.62}
    for band in ("1564", "1524", "2554", "5564"):
        lo, hi = _age_range(band)
        r[f"P{yy}_POP{band}"] = p.ages(lo, hi)
    for sex in ("H", "F"):
        for band in ("1564", "1524", "2554", "5564"):
            r[f"P{yy}_{sex}{band}"] = p.ages(*_age_range(band), sex)
    for prefix, sex in (("", ""), ("H", "H"), ("F", "F")):
        act = {b: p.ages(*_age_range(b), sex) * rate for b, rate in rates.items()}
        act["1564"] = sum(act.values())
        for band in ("1564", "1524", "2554", "5564"):
            r[f"P{yy}_{prefix}ACT{band}"] = act[band]
        for band in ("1564", "1524", "2554", "5564"):
            r[f"P{yy}_{prefix}ACTOCC{band}"] = act[band] * (1 - p.unemployment)
    for band in ("1564", "1524", "2554", "5564"):
        r[f"P{yy}_CHOM{band}"] = r[f"P{yy}_ACT{band}"] - r[f"P{yy}_ACTOCC{band}"]
    for sex in ("H", "F"):
        r[f"P{yy}_{sex}CHOM1564"] = r[f"P{yy}_{sex}ACT1564"] - r[f"P{yy}_{sex}ACTOCC1564"]
    for prefix in ("", "H", "F"):
        pop = r[f"P{yy}_POP1564"] if not prefix else r[f"P{yy}_{prefix}1564"]
        inact = pop - r[f"P{yy}_{prefix}ACT1564"]
        r[f"P{yy}_{prefix}INACT1564"] = inact
        etud, retr, autre = (inact * 0.45, inact * 0.3, inact * 0.25)
        r[f"P{yy}_{prefix}ETUD1564"] = etud
        r[f"P{yy}_{prefix}RETR1564"] = retr
        r[f"P{yy}_{prefix}AINACT1564"] = autre
    shares = [0.005, 0.05, p.exec_share, 0.26, 0.28, 0.2]
    act = r[f"P{yy}_ACT1564"]
    r[f"C{yy}_ACT1564"] = act
    for code, value in zip(pcs_act, p.split(act, shares), strict=True):
        r[f"C{yy}_ACT1564_{code}"] = value
    r[f"C{yy}_ACTOCC1564"] = r[f"P{yy}_ACTOCC1564"]
    return r


def activite_columns(yy: str, pcs_act: tuple[str, ...], pcs_occ: tuple[str, ...]) -> list[str]:
    cols = [f"P{yy}_POP{b}" for b in ("1564", "1524", "2554", "5564")]
    for sex in ("H", "F"):
        cols += [f"P{yy}_{sex}{b}" for b in ("1564", "1524", "2554", "5564")]
    for what in ("ACT", "ACTOCC"):
        for prefix in ("", "H", "F"):
            cols += [f"P{yy}_{prefix}{what}{b}" for b in ("1564", "1524", "2554", "5564")]
    cols += [f"P{yy}_CHOM{b}" for b in ("1564", "1524", "2554", "5564")]
    cols += [f"P{yy}_HCHOM1564", f"P{yy}_FCHOM1564"]
    for what in ("INACT", "ETUD", "RETR", "AINACT"):
        cols += [f"P{yy}_{prefix}{what}1564" for prefix in ("", "H", "F")]
    cols += [f"C{yy}_ACT1564", *(f"C{yy}_ACT1564_{c}" for c in pcs_act)]
    cols += [f"C{yy}_ACTOCC1564", *(f"C{yy}_ACTOCC1564_{c}" for c in pcs_occ)]
    cols += [f"P{yy}_{c}" for c in ("ACTOCC15P", "HACTOCC15P", "FACTOCC15P")]
    cols += [f"P{yy}_{c}" for c in ("SAL15P", "HSAL15P", "FSAL15P", "NSAL15P", "HNSAL15P")]
    cols += [f"P{yy}_{c}" for c in ("FNSAL15P", "ACTOCC15P_TP", "SAL15P_TP", "NSAL15P_TP")]
    cols += [f"P{yy}_SAL15P_{c}" for c in ("CDI", "CDD", "INTERIM", "EMPAID", "APPR")] + [
        f"P{yy}_NSAL15P_{c}" for c in ("INDEP", "EMPLOY", "AIDFAM")
    ]
    return cols


def activite_full_row(
    p: Profile, yy: str, pcs_act: tuple[str, ...], pcs_occ: tuple[str, ...]
) -> Row:
    r = activite_row(p, yy, pcs_act)
    shares = [0.005, 0.05, p.exec_share, 0.26, 0.28, 0.2]
    occ = r[f"C{yy}_ACTOCC1564"]
    for code, value in zip(pcs_occ, p.split(occ, shares), strict=True):
        r[f"C{yy}_ACTOCC1564_{code}"] = value
    occ15 = occ * 1.02
    r[f"P{yy}_ACTOCC15P"] = occ15
    r[f"P{yy}_HACTOCC15P"] = occ15 * 0.52
    r[f"P{yy}_FACTOCC15P"] = occ15 * 0.48
    sal = occ15 * 0.88
    r[f"P{yy}_SAL15P"] = sal
    r[f"P{yy}_HSAL15P"] = sal * 0.5
    r[f"P{yy}_FSAL15P"] = sal * 0.5
    nsal = occ15 - sal
    r[f"P{yy}_NSAL15P"] = nsal
    r[f"P{yy}_HNSAL15P"] = nsal * 0.62
    r[f"P{yy}_FNSAL15P"] = nsal * 0.38
    r[f"P{yy}_ACTOCC15P_TP"] = occ15 * 0.17
    r[f"P{yy}_SAL15P_TP"] = sal * 0.18
    r[f"P{yy}_NSAL15P_TP"] = nsal * 0.1
    for code, share in (("CDI", 0.85), ("CDD", 0.09), ("INTERIM", 0.025), ("EMPAID", 0.01)):
        r[f"P{yy}_SAL15P_{code}"] = sal * share
    r[f"P{yy}_SAL15P_APPR"] = sal * 0.025
    for code, share in (("INDEP", 0.6), ("EMPLOY", 0.38), ("AIDFAM", 0.02)):
        r[f"P{yy}_NSAL15P_{code}"] = nsal * share
    return r


DIPLOMA = ("DIPLMIN", "BEPC", "CAPBEP", "BAC", "SUP2", "SUP34", "SUP5")


def diplomes_row(p: Profile, yy: str) -> Row:
    r: Row = {}
    bands = ("0205", "0610", "1114", "1517", "1824", "2529", "30P")
    rates = {"0205": 0.75, "0610": 0.99, "1114": 0.99, "1517": 0.96, "1824": 0.52}
    rates |= {"2529": 0.09, "30P": 0.01}
    for b in bands:
        r[f"P{yy}_POP{b}"] = p.ages(*_age_range(b))
    for b in bands:
        r[f"P{yy}_SCOL{b}"] = r[f"P{yy}_POP{b}"] * rates[b]
    weights = [0.18, 0.05, 0.24, 0.18, 0.12, 0.11, 0.12 + p.exec_share / 2]
    for prefix, sex in (("", ""), ("H", "H"), ("F", "F")):
        nscol = p.ages(15, 120, sex) * 0.86
        r[f"P{yy}_{prefix}NSCOL15P"] = nscol
        for code, value in zip(DIPLOMA, p.split(nscol, weights), strict=True):
            r[f"P{yy}_{prefix}NSCOL15P_{code}"] = value
    return r


def diplomes_columns(yy: str) -> list[str]:
    bands = ("0205", "0610", "1114", "1517", "1824", "2529", "30P")
    cols = [f"P{yy}_POP{b}" for b in bands] + [f"P{yy}_SCOL{b}" for b in bands]
    for prefix in ("", "H", "F"):
        cols += [f"P{yy}_{prefix}NSCOL15P", *(f"P{yy}_{prefix}NSCOL15P_{c}" for c in DIPLOMA)]
    return cols


LOGEMENT_SIZES = ("M30M2", "3040M2", "4060M2", "6080M2", "80100M2", "100120M2", "120M2P")
ANEM = ("0002", "0204", "0509", "10P")


def logement_row(p: Profile, yy: str) -> Row:
    r: Row = {}
    pmen = p.ages(0, 120) * 0.985
    men = pmen / p.rng.uniform(1.8, 2.4)
    rp = men
    log = rp / p.rng.uniform(0.86, 0.93)
    r[f"P{yy}_LOG"] = log
    r[f"P{yy}_RP"] = rp
    r[f"P{yy}_RSECOCC"] = (log - rp) * 0.35
    r[f"P{yy}_LOGVAC"] = (log - rp) * 0.65
    house = p.owner_share * 0.9
    r[f"P{yy}_MAISON"] = log * house
    r[f"P{yy}_APPART"] = log * (1 - house) * 0.99
    for code, value in zip(
        ("RP_1P", "RP_2P", "RP_3P", "RP_4P", "RP_5PP"),
        p.split(rp, [0.07, 0.14, 0.22, 0.27, 0.3]),
        strict=True,
    ):
        r[f"P{yy}_{code}"] = value
    r[f"P{yy}_NBPI_RP"] = rp * 3.9
    r[f"P{yy}_RPMAISON"] = rp * house
    r[f"P{yy}_NBPI_RPMAISON"] = rp * house * 4.8
    r[f"P{yy}_RPAPPART"] = rp * (1 - house)
    r[f"P{yy}_NBPI_RPAPPART"] = rp * (1 - house) * 2.9
    for code, value in zip(
        LOGEMENT_SIZES, p.split(rp, [0.06, 0.08, 0.18, 0.24, 0.2, 0.12, 0.12]), strict=True
    ):
        r[f"P{yy}_RP_{code}"] = value
    r[f"P{yy}_MEN"] = men
    for code, value in zip(ANEM, p.split(men, [0.12, 0.18, 0.17, 0.53]), strict=True):
        r[f"P{yy}_MEN_ANEM{code}"] = value
    r[f"P{yy}_PMEN"] = pmen
    for code, value in zip(ANEM, p.split(pmen, [0.12, 0.19, 0.18, 0.51]), strict=True):
        r[f"P{yy}_PMEN_ANEM{code}"] = value
    owners = rp * p.owner_share
    tenants = rp - owners - rp * 0.015
    r[f"P{yy}_RP_PROP"] = owners
    r[f"P{yy}_RP_LOC"] = tenants
    r[f"P{yy}_RP_LOCHLMV"] = rp * p.hlm_share
    r[f"P{yy}_RP_GRAT"] = rp * 0.015
    r[f"P{yy}_NPER_RP"] = pmen
    r[f"P{yy}_NPER_RP_PROP"] = pmen * p.owner_share * 1.05
    r[f"P{yy}_NPER_RP_LOC"] = pmen * (1 - p.owner_share) * 0.93
    r[f"P{yy}_NPER_RP_LOCHLMV"] = pmen * p.hlm_share
    r[f"P{yy}_NPER_RP_GRAT"] = pmen * 0.012
    r[f"P{yy}_RP_GARL"] = rp * (0.4 + house * 0.5)
    r[f"P{yy}_RP_VOIT1P"] = rp * (0.6 + house * 0.35)
    r[f"P{yy}_RP_VOIT1"] = rp * 0.45
    r[f"P{yy}_RP_VOIT2P"] = r[f"P{yy}_RP_VOIT1P"] - r[f"P{yy}_RP_VOIT1"]
    return r


def logement_columns(yy: str) -> list[str]:
    cols = ["LOG", "RP", "RSECOCC", "LOGVAC", "MAISON", "APPART"]
    cols += ["RP_1P", "RP_2P", "RP_3P", "RP_4P", "RP_5PP", "NBPI_RP", "RPMAISON"]
    cols += ["NBPI_RPMAISON", "RPAPPART", "NBPI_RPAPPART", *(f"RP_{s}" for s in LOGEMENT_SIZES)]
    cols += ["MEN", *(f"MEN_ANEM{a}" for a in ANEM), "PMEN", *(f"PMEN_ANEM{a}" for a in ANEM)]
    cols += ["RP_PROP", "RP_LOC", "RP_LOCHLMV", "RP_GRAT", "NPER_RP", "NPER_RP_PROP"]
    cols += ["NPER_RP_LOC", "NPER_RP_LOCHLMV", "NPER_RP_GRAT", "RP_GARL", "RP_VOIT1P"]
    cols += ["RP_VOIT1", "RP_VOIT2P"]
    return [f"P{yy}_{c}" for c in cols]


HOUSEHOLD_TYPES = ("MENPSEUL", "MENHSEUL", "MENFSEUL", "MENSFAM", "MENFAM", "MENCOUPSENF")
HOUSEHOLD_TYPES += ("MENCOUPAENF", "MENFAMMONO")
AGE_CFM = ("15P", "1524", "2554", "5579", "80P")


def menages_row(p: Profile, yy: str, pcs: tuple[str, ...]) -> Row:
    r: Row = {}
    pmen = p.ages(0, 120) * 0.985
    men = pmen / p.rng.uniform(1.8, 2.4)
    alone = men * p.rng.uniform(0.3, 0.5)
    alone_h = alone * 0.45
    other = men * 0.03
    fam = men - alone - other
    cse, cae = fam * 0.42, fam * 0.42
    mono = fam - cse - cae
    values = [alone, alone_h, alone - alone_h, other, fam, cse, cae, mono]
    r[f"C{yy}_MEN"] = men
    for code, value in zip(HOUSEHOLD_TYPES, values, strict=True):
        r[f"C{yy}_{code}"] = value
    r[f"C{yy}_PMEN"] = pmen
    sizes = [1, 1, 1, 2.1, 0, 2, 3.9, 2.6]
    fam_people = pmen - alone - other * 2.1
    family_sizes = [cse * 2, cae * 3.9, mono * 2.6]
    fam_scale = fam_people / sum(family_sizes)
    people = [v * s for v, s in zip(values, sizes, strict=True)]
    people[4] = fam_people
    people[5], people[6], people[7] = (x * fam_scale for x in family_sizes)
    for code, value in zip(HOUSEHOLD_TYPES, people, strict=True):
        r[f"C{yy}_PMEN_{code}"] = value
    for band in AGE_CFM:
        r[f"P{yy}_POP{band}"] = p.ages(*_age_range(band))
    for band in AGE_CFM:
        r[f"P{yy}_POPMEN{band}"] = r[f"P{yy}_POP{band}"] * 0.985
    for band in AGE_CFM:
        r[f"P{yy}_POP{band}_PSEUL"] = r[f"P{yy}_POP{band}"] * (0.35 if band == "80P" else 0.17)
    shares = [0.01, 0.06, p.exec_share, 0.16, 0.13, 0.12, 0.33, 0.05]
    for code, value in zip(pcs, p.split(men, shares), strict=True):
        r[f"C{yy}_MEN_{code}"] = value
    for code, value in zip(pcs, p.split(pmen, shares), strict=True):
        r[f"C{yy}_PMEN_{code}"] = value
    r[f"C{yy}_FAM"] = fam
    r[f"C{yy}_COUPAENF"] = cae
    r[f"C{yy}_FAMMONO"] = mono
    r[f"C{yy}_COUPSENF"] = cse
    for code, value in zip(
        ("NE24F0", "NE24F1", "NE24F2", "NE24F3", "NE24F4P"),
        p.split(fam, [0.45, 0.23, 0.22, 0.07, 0.03]),
        strict=True,
    ):
        r[f"C{yy}_{code}"] = value
    return r


def menages_columns(yy: str, pcs: tuple[str, ...]) -> list[str]:
    cols = [f"C{yy}_MEN", *(f"C{yy}_{c}" for c in HOUSEHOLD_TYPES)]
    cols += [f"C{yy}_PMEN", *(f"C{yy}_PMEN_{c}" for c in HOUSEHOLD_TYPES)]
    cols += [f"P{yy}_POP{b}" for b in AGE_CFM] + [f"P{yy}_POPMEN{b}" for b in AGE_CFM]
    cols += [f"P{yy}_POP{b}_PSEUL" for b in AGE_CFM]
    cols += [f"C{yy}_MEN_{c}" for c in pcs] + [f"C{yy}_PMEN_{c}" for c in pcs]
    cols += [f"C{yy}_{c}" for c in ("FAM", "COUPAENF", "FAMMONO", "COUPSENF")]
    cols += [f"C{yy}_{c}" for c in ("NE24F0", "NE24F1", "NE24F2", "NE24F3", "NE24F4P")]
    return cols


@dataclass(frozen=True)
class Theme:
    name: str  # registry theme
    file_stem: str  # base-ic-<...>-<year>
    columns: Callable[[str], list[str]]
    row: Callable[[Profile, str], Row]


def themes(vintage: int) -> list[Theme]:
    pcs = PCS2020 if vintage >= 2022 else PCS2003
    act = PCS2020[:6] if vintage >= 2022 else PCS2003[:6]
    occ = PCS2020_EMPLOYED if vintage >= 2022 else PCS2003[:6]
    return [
        Theme(
            "population",
            f"base-ic-evol-struct-pop-{vintage}",
            lambda yy: population_columns(yy, pcs),
            lambda p, yy: population_row(p, yy, pcs),
        ),
        Theme(
            "couples_familles_menages",
            f"base-ic-couples-familles-menages-{vintage}",
            lambda yy: menages_columns(yy, pcs),
            lambda p, yy: menages_row(p, yy, pcs),
        ),
        Theme(
            "diplomes_formation",
            f"base-ic-diplomes-formation-{vintage}",
            diplomes_columns,
            diplomes_row,
        ),
        Theme("logement", f"base-ic-logement-{vintage}", logement_columns, logement_row),
        Theme(
            "activite_residents",
            f"base-ic-activite-residents-{vintage}",
            lambda yy: activite_columns(yy, act, occ),
            lambda p, yy: activite_full_row(p, yy, act, occ),
        ),
    ]


# ---- writing -----------------------------------------------------------------------------------


def profiles(iris_list: list[Iris]) -> list[Profile]:
    electors = commune_electors()
    per_commune: dict[str, int] = {}
    for i in iris_list:
        per_commune[i.code_commune] = per_commune.get(i.code_commune, 0) + 1
    out = []
    for i in iris_list:
        rng = random.Random(f"{SEED}:size:{i.code_iris}")
        commune_pop = electors[i.code_commune] * 1.32
        share = 1 / per_commune[i.code_commune]
        total = commune_pop * share * (rng.uniform(0.75, 1.25) if i.typ_iris != "Z" else 1.0)
        out.append(Profile(i, total, integer=i.typ_iris == "Z"))
    return out


def data_csv(theme: Theme, people: list[Profile], vintage: int) -> bytes:
    yy = f"{vintage % 100:02d}"
    columns = theme.columns(yy)
    lines = [";".join([*ID_COLUMNS, *columns])]
    for p in people:
        row = theme.row(p, yy)
        missing = set(columns) - set(row)
        assert not missing, f"{theme.name}: no value for {sorted(missing)[:5]}"
        lab = "5" if p.iris.typ_iris == "Z" else "1"
        cells = [p.iris.code_iris, p.iris.code_commune, p.iris.typ_iris, lab]
        cells += [_fmt(max(p.out(row[c]), 0.0), p.integer) for c in columns]
        lines.append(";".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


def meta_csv(theme: Theme, vintage: int) -> bytes:
    yy = f"{vintage % 100:02d}"
    lines = ["COD_VAR;LIB_VAR;TYPE_VAR;LONG_VAR"]
    labels = {
        "IRIS": "Code géographique IRIS",
        "COM": "Code géographique de la commune ou de l'arrondissement municipal",
        "TYP_IRIS": "Type d'IRIS (H, A, D, Z)",
        "LAB_IRIS": "Label de qualité de l'IRIS",
    }
    for name in ID_COLUMNS:
        lines.append(f"{name};{labels[name]};CHAR;{9 if name == 'IRIS' else 5}")
    for name in theme.columns(yy):
        source = "exploitation " + ("principale" if name.startswith("P") else "complémentaire")
        lines.append(f"{name};{name} ({source}, synthétique Scrutin);NUM;17")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_zip(target: Path, members: list[tuple[str, bytes]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    target.write_bytes(buffer.getvalue())


def write_theme_zips(folder: Path, people: list[Profile], vintage: int) -> list[tuple[Theme, Path]]:
    out = []
    for theme in themes(vintage):
        member = f"{theme.file_stem}.CSV"
        target = folder / f"{theme.file_stem}_csv.zip"
        write_zip(
            target,
            [
                (member, data_csv(theme, people, vintage)),
                (f"meta_{theme.file_stem}.CSV", meta_csv(theme, vintage)),
            ],
        )
        out.append((theme, target))
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(folder: Path, zips: list[tuple[Theme, Path]], extract: Path) -> None:
    lines = [
        "# Landing manifest of the bundled census sample (registry schema, see",
        "# ingestion/census/registry.py). Written by scripts/generate_sample_census.py.",
        "version: 1",
        "files:",
    ]
    for theme, path in zips:
        lines += [
            f"  - key: sample-{theme.name}-2021",
            f"    theme: {theme.name}",
            "    vintage: 2021",
            "    geo_year: 2023",
            f"    path: {path.name}",
            f"    sha256: {sha256(path)}",
            f"    member: '{theme.file_stem}\\.CSV'",
        ]
    lines += [
        "  - key: sample-filosofi-2015",
        "    theme: filosofi",
        "    vintage: 2015",
        "    geo_year: 2016",
        f"    path: {extract.name}",
        f"    sha256: {sha256(extract)}",
        "    format: filosofi-reexport",
        '    decimal: ","',
    ]
    (folder / "manifest.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_iris_list(folder: Path, iris_list: list[Iris]) -> None:
    with (folder / "iris_sample.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code_iris", "code_commune", "libiris", "typ_iris"])
        for i in iris_list:
            writer.writerow([i.code_iris, i.code_commune, i.libiris, i.typ_iris])


def generate(sample_dir: Path, fixture_dir: Path, filosofi_source: Path) -> None:
    sample_dir.mkdir(parents=True, exist_ok=True)
    fixture_dir.mkdir(parents=True, exist_ok=True)
    extract = sample_dir / FILOSOFI_EXTRACT
    if filosofi_source.exists():
        header, lines = filosofi_lines(filosofi_source)
        extract.write_bytes((header + "".join(lines)).encode("utf-8"))
    elif not extract.exists():
        raise SystemExit(f"{filosofi_source} not found and no {extract} to reuse")
    iris_list = sample_iris(extract)
    write_iris_list(sample_dir, iris_list)
    people = profiles(iris_list)
    zips = write_theme_zips(sample_dir, people, 2021)
    write_manifest(sample_dir, zips, extract)
    pcs2020 = [t for t in themes(2022) if t.name in ("population", "activite_residents")]
    for theme in pcs2020:
        write_zip(
            fixture_dir / f"{theme.file_stem}_csv.zip",
            [
                (f"{theme.file_stem}.CSV", data_csv(theme, people, 2022)),
                (f"meta_{theme.file_stem}.CSV", meta_csv(theme, 2022)),
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sample-dir", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--fixture-dir", type=Path, default=FIXTURE_DIR)
    parser.add_argument(
        "--filosofi",
        type=Path,
        default=FILOSOFI_2015,
        help="the real Filosofi 2015 re-export (default: the shared test kit); when absent, "
        "the extract already in the sample folder is reused",
    )
    args = parser.parse_args()
    generate(args.sample_dir, args.fixture_dir, args.filosofi)
    print(f"census sample written to {args.sample_dir} and {args.fixture_dir}")


if __name__ == "__main__":
    main()
