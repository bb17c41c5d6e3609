"""Generate the SYNTHETIC reference elections of the bundled sample (same inputs, same bytes).

The targeting scores compare a high-salience election (présidentielle 2022, round 1) with a
low-salience one (régionales 2021, round 1) in every bureau: who votes only when it matters, and
how many of them lean to the campaign's bloc. The bundled sample has only the real législatives
2024 files, and there is no network, so this script INVENTS the two reference elections for the
same 201 bureaux, in the Ministry's layouts the loader reads:

- `presidentielle-2022-t1-synthetic.csv`: layout `minint_2017_pres` (cp1252, CRLF, `;`, no
  quoting, header naming the first candidate block only, 3-digit commune code within the
  department, 4-digit bureau code, percentages `12,34`). The 12 real candidates of 2022 in the
  official panel order, spelt as `dbt/seeds/presidential_candidate_nuances.csv` knows them (after
  the accent folding of int_candidate_results__blocs), so each one maps to a nuance, then a bloc.
- `regionales-2021-t1-synthetic.csv`: layout `minint_2021_reg` (same conventions, list blocks).
  Nine INVENTED lists (heads, labels), one per political family, with nuances that the seed
  `dbt/seeds/nuance_blocs.csv` maps for régionales 2021; every extended label says
  `[SYNTHÉTIQUE]` so the values carry their own warning into the warehouse.

Every number is invented, drawn from a fixed seed; only the bureau list, commune names, the
constituency of each bureau and the 2024 figures it is conditioned on are real:
- registered = 2024 round-1 registered x (1 ± up to 2 %);
- turnout: présidentielle 75-85 %, régionales 30-40 %, both higher where 2024 turnout was higher;
- blancs and nuls: a few per cent of voters (more at the régionales, as in real life);
- candidate / list shares: a base share (roughly the Brest area's order of magnitude) tilted by
  the bureau's 2024 left share (UG) or far-right share (RN), times noise; the régionales left lists
  also share a per-bureau mobilisation factor, so the left's intermittent-voter reservoir
  (présidentielle left votes minus régionales left votes) differs from bureau to bureau;
- votes are split by largest remainder, so they add up to exprimés exactly, and inscrits =
  votants + abstentions, votants = exprimés + blancs + nuls hold in every row.

NEVER read these files as election results: they exist to exercise the score pipeline.
Provenance: data/sample/elections/PROVENANCE.md.

Usage:
    .venv/bin/python scripts/generate_sample_history.py            # (re)write the two files
    .venv/bin/python scripts/generate_sample_history.py --check    # fail if they differ
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELECTIONS_DIR = ROOT / "data" / "sample" / "elections"
TOUR1 = ELECTIONS_DIR / "circos23-tour1.csv"
PRES_FILE = "presidentielle-2022-t1-synthetic.csv"
REG_FILE = "regionales-2021-t1-synthetic.csv"
OUTPUTS = {PRES_FILE: "2022_pres_t1", REG_FILE: "2021_reg_t1"}
SEED = 20220410  # date of the présidentielle's first round
ENCODING = "cp1252"  # the 2017-2022 Ministry files are Windows-1252 with CRLF line ends
NEWLINE = "\r\n"

# The 2024 file has no constituency column; the candidate list tells it (shared/data/real README).
CIRCONSCRIPTION_OF_CANDIDATE = {"CADALEN": 2, "LE GAC": 3}

COUNTS_HEADER = (
    "Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;"
    "% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot"
)
PRES_HEADER = (
    "Code du département;Libellé du département;Code de la circonscription;"
    "Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;"
    f"{COUNTS_HEADER};N°Panneau;Sexe;Nom;Prénom;Voix;% Voix/Ins;% Voix/Exp"
)
REG_HEADER = (
    "Code du département;Libellé du département;Code de la commune;Libellé de la commune;"
    f"Code du b.vote;{COUNTS_HEADER};N°Panneau;Nuance Liste;Libellé Abrégé Liste;"
    "Libellé Etendu Liste;Nom Tête de Liste;Voix;% Voix/Ins;% Voix/Exp"
)


@dataclass(frozen=True, slots=True)
class Bureau:
    """One real bureau of the 2024 round-1 file and the figures the synthesis leans on."""

    code_departement: str
    libelle_departement: str
    code_commune: str  # 5-character INSEE code
    libelle_commune: str
    code_bv: str  # 4 digits
    circonscription: int
    inscrits_2024: int
    turnout_2024: float
    left_2024: float  # UG share of exprimés
    far_right_2024: float  # RN share of exprimés


@dataclass(frozen=True, slots=True)
class Standing:
    """A candidate or list and how its share moves with the bureau's 2024 profile.

    weight = base x exp(left_tilt x z_left + far_right_tilt x z_far_right + noise): z are the
    bureau's standardised 2024 UG and RN shares, so a positive tilt means "stronger where the
    2024 left (or far right) was strong".
    """

    panneau: int
    base: float
    left_tilt: float = 0.0
    far_right_tilt: float = 0.0
    left_mobilised: bool = False  # régionales: shares the bureau's left mobilisation factor
    sexe: str = ""
    nom: str = ""
    prenom: str = ""
    nuance: str = ""
    liste_abrege: str = ""
    liste: str = ""
    tete: str = ""


# Présidentielle 2022, official panel order. Bases: order of magnitude of the Brest area.
PRESIDENTIAL = (
    Standing(1, 0.006, left_tilt=0.10, sexe="F", nom="ARTHAUD", prenom="Nathalie"),
    Standing(2, 0.025, left_tilt=0.20, sexe="M", nom="ROUSSEL", prenom="Fabien"),
    Standing(3, 0.290, left_tilt=-0.15, sexe="M", nom="MACRON", prenom="Emmanuel"),
    Standing(4, 0.025, left_tilt=-0.10, sexe="M", nom="LASSALLE", prenom="Jean"),
    Standing(5, 0.150, far_right_tilt=0.30, sexe="F", nom="LE PEN", prenom="Marine"),
    Standing(6, 0.055, far_right_tilt=0.10, sexe="M", nom="ZEMMOUR", prenom="Éric"),
    Standing(7, 0.270, left_tilt=0.35, sexe="M", nom="MÉLENCHON", prenom="Jean-Luc"),
    Standing(8, 0.025, left_tilt=0.10, sexe="F", nom="HIDALGO", prenom="Anne"),
    Standing(9, 0.060, left_tilt=0.15, sexe="M", nom="JADOT", prenom="Yannick"),
    Standing(10, 0.045, left_tilt=-0.20, sexe="F", nom="PÉCRESSE", prenom="Valérie"),
    Standing(11, 0.010, left_tilt=0.15, sexe="M", nom="POUTOU", prenom="Philippe"),
    Standing(12, 0.020, far_right_tilt=0.10, sexe="M", nom="DUPONT-AIGNAN", prenom="Nicolas"),
)

_SYN = "[SYNTHÉTIQUE]"
# Régionales 2021: invented lists and heads (no real person), one per family; the nuances are
# Ministry list codes mapped for reg/2021 by dbt/seeds/nuance_blocs.csv.
REGIONAL = (
    Standing(1, 0.020, left_tilt=0.10, nuance="LEXG", liste_abrege="TRAVAILLEURS BZH",
             liste=f"{_SYN} Le camp des travailleurs en Bretagne", tete="KERVAREC Soazig"),
    Standing(2, 0.050, left_tilt=0.40, left_mobilised=True, nuance="LFI",
             liste_abrege="BRETAGNE INSOUMISE", liste=f"{_SYN} La Bretagne insoumise et solidaire",
             tete="LE BRIS Erwan"),
    Standing(3, 0.180, left_tilt=0.20, left_mobilised=True, nuance="LUG",
             liste_abrege="BRETAGNE A GAUCHE",
             liste=f"{_SYN} L'union de la gauche pour la Bretagne", tete="MORVAN Gaëlle"),
    Standing(4, 0.150, left_tilt=0.20, nuance="LVEC", liste_abrege="BRETAGNE ECOLOGIE",
             liste=f"{_SYN} Bretagne écologiste et citoyenne", tete="GUILLOU Nolwenn"),
    Standing(5, 0.050, nuance="LREG", liste_abrege="BREIZH DA ZONT",
             liste=f"{_SYN} Breizh da zont, liste régionaliste", tete="QUÉMÉNER Yann"),
    Standing(6, 0.160, left_tilt=-0.15, nuance="LREM", liste_abrege="BRETAGNE EN MARCHE",
             liste=f"{_SYN} La Bretagne en marche, avec la majorité présidentielle",
             tete="TANGUY Loïc"),
    Standing(7, 0.150, left_tilt=-0.20, nuance="LUCD", liste_abrege="BRETAGNE AU CENTRE DROIT",
             liste=f"{_SYN} Union du centre et de la droite pour la Bretagne",
             tete="ABGRALL Maryvonne"),
    Standing(8, 0.120, far_right_tilt=0.30, nuance="LRN", liste_abrege="RASSEMBLEMENT BZH",
             liste=f"{_SYN} Rassemblement pour la Bretagne", tete="CORRE Hervé"),
    Standing(9, 0.020, nuance="LDIV", liste_abrege="BRETAGNE CITOYENNE",
             liste=f"{_SYN} Liste citoyenne divers", tete="PRIGENT Jakez"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Contest:
    """What one synthetic election draws: turnout band, invalid ballots, standings."""

    turnout_mean: float
    turnout_min: float
    turnout_max: float
    turnout_slope: float  # per standard deviation of the bureau's 2024 turnout
    blancs_rate: float
    nuls_rate: float
    standings: tuple[Standing, ...]
    left_mobilisation_sd: float = 0.0


PRES_CONTEST = Contest(0.80, 0.75, 0.85, 0.025, 0.015, 0.006, PRESIDENTIAL)
REG_CONTEST = Contest(0.35, 0.30, 0.40, 0.030, 0.025, 0.012, REGIONAL, left_mobilisation_sd=0.18)


def _int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SystemExit(
            f"{path}: line {line}, column {column!r}: expected a count, got {value!r}"
        ) from None


def read_bureaux(path: Path = TOUR1) -> list[Bureau]:
    """The 201 bureaux of the real 2024 round-1 file (unquoted re-save, `Code BV` not padded)."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader)
        col = {name: i for i, name in enumerate(header)}
        n_blocks = sum(1 for name in header if name.startswith("Nuance candidat "))
        bureaux: list[Bureau] = []
        for line, row in enumerate(reader, start=2):
            exprimes = _int(row[col["Exprimés"]], path, line, "Exprimés")
            inscrits = _int(row[col["Inscrits"]], path, line, "Inscrits")
            votants = _int(row[col["Votants"]], path, line, "Votants")
            votes: dict[str, int] = {}
            circ = 0
            for k in range(1, n_blocks + 1):
                nuance = row[col[f"Nuance candidat {k}"]]
                if not nuance:
                    continue
                voix = _int(row[col[f"Voix {k}"]], path, line, f"Voix {k}")
                votes[nuance] = votes.get(nuance, 0) + voix
                circ = CIRCONSCRIPTION_OF_CANDIDATE.get(row[col[f"Nom candidat {k}"]], circ)
            if not circ:
                raise SystemExit(f"{path}: line {line}: no candidate tells the constituency")
            bureaux.append(
                Bureau(
                    code_departement=row[col["Code département"]],
                    libelle_departement=row[col["Libellé département"]],
                    code_commune=row[col["Code commune"]],
                    libelle_commune=row[col["Libellé commune"]],
                    code_bv=row[col["Code BV"]].zfill(4),
                    circonscription=circ,
                    inscrits_2024=inscrits,
                    turnout_2024=votants / inscrits,
                    left_2024=votes.get("UG", 0) / exprimes,
                    far_right_2024=votes.get("RN", 0) / exprimes,
                )
            )
    # The Ministry's files are ordered by department, commune and bureau.
    return sorted(bureaux, key=lambda b: (b.code_commune, b.code_bv))


def _standardiser(values: Sequence[float]) -> Callable[[float], float]:
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    return lambda x: (x - mean) / sd if sd else 0.0


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights` into integers that add up to `total` exactly
    (ties broken by position, so the split is deterministic)."""
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def pct(part: int, whole: int) -> str:
    """`12,34`: two decimals and the decimal comma of the 2017-2022 Ministry files."""
    return f"{100 * part / whole:.2f}".replace(".", ",") if whole else "0,00"


def _clamp(x: float, low: float, high: float) -> float:
    return min(high, max(low, x))


@dataclass(frozen=True, slots=True)
class Outcome:
    inscrits: int
    votants: int
    abstentions: int
    exprimes: int
    blancs: int
    nuls: int
    voix: tuple[int, ...]

    def count_fields(self) -> list[str]:
        return [
            str(self.inscrits), str(self.abstentions), pct(self.abstentions, self.inscrits),
            str(self.votants), pct(self.votants, self.inscrits),
            str(self.blancs), pct(self.blancs, self.inscrits), pct(self.blancs, self.votants),
            str(self.nuls), pct(self.nuls, self.inscrits), pct(self.nuls, self.votants),
            str(self.exprimes), pct(self.exprimes, self.inscrits),
            pct(self.exprimes, self.votants),
        ]  # fmt: skip

    def vote_fields(self, v: int) -> list[str]:
        return [str(v), pct(v, self.inscrits), pct(v, self.exprimes)]


def draw(  # noqa: PLR0917 - one bureau, one contest: the arguments are the model
    rng: random.Random,
    contest: Contest,
    bureau: Bureau,
    z_turnout: float,
    z_left: float,
    z_far_right: float,
) -> Outcome:
    """One bureau's synthetic result; the draws happen in a fixed order (determinism)."""
    inscrits = round(bureau.inscrits_2024 * (1 + rng.uniform(-0.02, 0.02)))
    turnout = _clamp(
        contest.turnout_mean + contest.turnout_slope * z_turnout + rng.gauss(0, 0.01),
        contest.turnout_min,
        contest.turnout_max,
    )
    votants = round(inscrits * turnout)
    blancs = round(votants * _clamp(contest.blancs_rate * (1 + rng.gauss(0, 0.25)), 0.002, 0.06))
    nuls = round(votants * _clamp(contest.nuls_rate * (1 + rng.gauss(0, 0.25)), 0.001, 0.03))
    exprimes = votants - blancs - nuls
    mobilisation = math.exp(rng.gauss(0, contest.left_mobilisation_sd))
    weights = []
    for s in contest.standings:
        w = s.base * math.exp(s.left_tilt * z_left + s.far_right_tilt * z_far_right)
        w *= math.exp(rng.gauss(0, 0.08))
        weights.append(w * mobilisation if s.left_mobilised else w)
    voix = largest_remainder(exprimes, weights)
    return Outcome(inscrits, votants, inscrits - votants, exprimes, blancs, nuls, tuple(voix))


def _circ_label(n: int) -> str:
    return "1ère circonscription" if n == 1 else f"{n}ème circonscription"


def presidential_row(b: Bureau, o: Outcome) -> str:
    fields = [
        b.code_departement,
        b.libelle_departement,
        f"{b.circonscription:02d}",
        _circ_label(b.circonscription),
        b.code_commune[len(b.code_departement) :].zfill(3),
        b.libelle_commune,
        b.code_bv,
        *o.count_fields(),
    ]
    for s, v in zip(PRESIDENTIAL, o.voix, strict=True):
        fields += [str(s.panneau), s.sexe, s.nom, s.prenom, *o.vote_fields(v)]
    return ";".join(fields)


def regional_row(b: Bureau, o: Outcome) -> str:
    fields = [
        b.code_departement,
        b.libelle_departement,
        b.code_commune[len(b.code_departement) :].zfill(3),
        b.libelle_commune,
        b.code_bv,
        *o.count_fields(),
    ]
    for s, v in zip(REGIONAL, o.voix, strict=True):
        fields += [str(s.panneau), s.nuance, s.liste_abrege, s.liste, s.tete, *o.vote_fields(v)]
    return ";".join(fields)


def render(bureaux: Sequence[Bureau], seed: int = SEED) -> dict[str, bytes]:
    """The two files' bytes. One generator per election, so changing one contest's model never
    moves the other's numbers."""
    z_turnout = _standardiser([b.turnout_2024 for b in bureaux])
    z_left = _standardiser([b.left_2024 for b in bureaux])
    z_far_right = _standardiser([b.far_right_2024 for b in bureaux])
    out: dict[str, bytes] = {}
    for name, header, contest, row in (
        (PRES_FILE, PRES_HEADER, PRES_CONTEST, presidential_row),
        (REG_FILE, REG_HEADER, REG_CONTEST, regional_row),
    ):
        rng = random.Random(f"{seed}-{OUTPUTS[name]}")
        lines = [header]
        for b in bureaux:
            outcome = draw(
                rng,
                contest,
                b,
                z_turnout(b.turnout_2024),
                z_left(b.left_2024),
                z_far_right(b.far_right_2024),
            )
            lines.append(row(b, outcome))
        out[name] = (NEWLINE.join(lines) + NEWLINE).encode(ENCODING)
    return out


def write(out_dir: Path, source: Path = TOUR1) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render(read_bureaux(source)).items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


def check(out_dir: Path, source: Path = TOUR1) -> list[str]:
    """Regenerate into a temporary folder; return one message per file of `out_dir` that differs
    (empty when the committed files are exactly the generator's output)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="scrutin-history-") as tmp:
        for fresh in write(Path(tmp), source):
            committed = out_dir / fresh.name
            if not committed.exists():
                problems.append(f"{committed}: missing (run scripts/generate_sample_history.py)")
                continue
            want, have = fresh.read_bytes(), committed.read_bytes()
            if want != have:
                at = next(
                    (i for i, (x, y) in enumerate(zip(want, have, strict=False)) if x != y),
                    min(len(want), len(have)),
                )
                line = have[:at].count(b"\n") + 1
                problems.append(
                    f"{committed}: differs from the generator's output at byte {at} (line {line}; "
                    f"{len(have)} bytes committed, {len(want)} generated)"
                )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary folder and fail if the files of --out-dir differ",
    )
    parser.add_argument("--out-dir", type=Path, default=ELECTIONS_DIR, help="default: %(default)s")
    parser.add_argument("--source", type=Path, default=TOUR1, help="the 2024 round-1 file")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out_dir, args.source)
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            print(f"{', '.join(OUTPUTS)}: identical to the generator's output")
        return 1 if problems else 0
    for path in write(args.out_dir, args.source):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
