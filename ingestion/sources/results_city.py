"""A city's own per-bureau export that names candidates but publishes no nuance.

Why a layout of its own: some towns publish their results before (or besides) the Ministry,
in their own format, with one `<Civilité> <NOM> <Prénom> - votes` column per candidate and
neither a nuance nor a commune code (Brest's 2022 législatives export is the real example:
`data/sample/elections/legislatives-2022-t1-brest-circo2.csv`). Without a nuance a candidate
counts in no bloc, so the file is read through a **mapping file** beside it,
`<results file name>.nuances.yml`:

    code_departement: "29"
    code_commune: "29019"
    libelle_commune: Brest
    candidates:                       # the header's label (before " - votes") -> nuance
      "M. CADALEN Pierre-Yves": NUP
      "M. LARSONNEUR Jean-Charles": DVC

A candidate of the header missing from the mapping is refused, naming the results file, its
line (1, the header), the candidate and the mapping file: a vote counted in no bloc would move
every bloc share and the rival without a word. The mapping's nuances are Ministry codes, mapped
to blocs by the `nuance_blocs` seed like any other.

Columns: an unnamed row index, `Numéro` (the bureau number), `Bureau` (polling place),
`Canton`, `Circo`, `Scrutin`, `Inscrits`, `Votants`, `Blancs`, `Nuls`, `Exprimés`,
`Participation`, then per candidate `… - votes` and `… - pourcentage`. Abstentions are
Inscrits − Votants (not published).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ingestion.errors import SourceFormatError
from ingestion.sources.results_codes import make_bureau_id, normalise_code_bv
from ingestion.sources.results_records import BureauRecord, CandidateRecord, ParsedRow
from ingestion.textlines import guarded_lines

LAYOUT_CITY_EXPORT = "city_export"
TITLE = "a city's own per-bureau export without nuances (read with a <file>.nuances.yml mapping)"
FIXED_COLUMNS: tuple[str, ...] = (
    "",
    "Numéro",
    "Bureau",
    "Canton",
    "Circo",
    "Scrutin",
    "Inscrits",
    "Votants",
    "Blancs",
    "Nuls",
    "Exprimés",
    "Participation",
)
VOTES_SUFFIX = " - votes"
SHARE_SUFFIX = " - pourcentage"
MAPPING_SUFFIX = ".nuances.yml"
_CIVILITIES = ("M. ", "Mme ", "Mlle ")


def is_city_export_header(fields: list[str]) -> bool:
    """True when the header is a city export's: the fixed columns, then candidate pairs."""
    names = [f.strip().lstrip("\ufeff") for f in fields]
    return (
        tuple(names[: len(FIXED_COLUMNS)]) == FIXED_COLUMNS
        and len(names) > len(FIXED_COLUMNS)
        and names[len(FIXED_COLUMNS)].endswith(VOTES_SUFFIX)
    )


def mapping_path(results: Path) -> Path:
    """Where the candidate -> nuance mapping of `results` lives: beside it."""
    return results.with_name(results.name + MAPPING_SUFFIX)


def read_mapping(path: Path, results: Path) -> dict[str, Any]:
    """The mapping file, validated: commune codes and a non-empty `candidates` mapping."""
    import yaml

    if not path.is_file():
        raise SourceFormatError(
            results,
            1,
            None,
            f"a city export carries no nuance: its candidate -> nuance mapping {path} is "
            "missing (see ingestion/sources/results_city.py for its format)",
        )
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key in ("code_departement", "code_commune", "candidates"):
        if not data.get(key):
            raise SourceFormatError(path, None, key, f"mapping file: key '{key}' is required")
    candidates = data["candidates"]
    if not isinstance(candidates, dict):
        raise SourceFormatError(
            path, None, "candidates", "expected a mapping of candidate label -> nuance"
        )
    for label, nuance in candidates.items():
        if not isinstance(nuance, str) or not nuance.strip():
            raise SourceFormatError(
                path, None, "candidates", f"candidate {label!r}: expected a nuance code"
            )
    return data


def _split_name(label: str) -> tuple[str, str | None, str | None]:
    """`M. CADALEN Pierre-Yves` -> (CADALEN, Pierre-Yves, M); the surname is the upper-case
    words (`LE CORRE`), the first name the rest."""
    sexe = None
    for civility in _CIVILITIES:
        if label.startswith(civility):
            sexe = "M" if civility == "M. " else "F"
            label = label[len(civility) :]
            break
    words = label.split()
    surname = [w for w in words if w.upper() == w and any(c.isalpha() for c in w)]
    first = [w for w in words if w not in surname]
    return " ".join(surname) or label, " ".join(first) or None, sexe


def _count(value: str, path: Path, line: int, column: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise SourceFormatError(path, line, column, f"expected a count, found {value!r}")
    return int(text)


def _decoded_lines(fh: BinaryIO, path: Path) -> Iterator[str]:
    """UTF-8 lines one at a time (BOM dropped), so a bad byte, a NUL or an endless line is
    refused on its own line (a text-mode file decodes 8 KiB blocks ahead)."""
    for line_no, raw in guarded_lines(fh, path):
        chunk = raw.removeprefix(codecs.BOM_UTF8) if line_no == 1 else raw
        try:
            yield chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceFormatError(
                path, line_no, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start + 1})"
            ) from None


def iter_city_export(path: str | Path) -> Iterator[ParsedRow]:
    """Stream a city export as canonical rows, nuances from the mapping file beside it."""
    path = Path(path)
    mapping_file = mapping_path(path)
    with path.open("rb") as fh:
        reader = csv.reader(_decoded_lines(fh, path), delimiter=";")
        header = next(reader, None)
        if header is None or not is_city_export_header(header):
            raise SourceFormatError(path, 1, None, "not a city export header (" + TITLE + ")")
        mapping = read_mapping(mapping_file, path)
        nuances: dict[str, str] = {
            str(k).strip(): str(v).strip() for k, v in mapping["candidates"].items()
        }
        blocks: list[tuple[int, str]] = []
        for index in range(len(FIXED_COLUMNS), len(header)):
            name = header[index].strip()
            if not name.endswith(VOTES_SUFFIX):
                if name.endswith(SHARE_SUFFIX):
                    continue
                raise SourceFormatError(
                    path, 1, name, f"expected '<candidate>{VOTES_SUFFIX}' or a share column"
                )
            label = name[: -len(VOTES_SUFFIX)].strip()
            if label not in nuances:
                raise SourceFormatError(
                    path,
                    1,
                    name,
                    f"candidate {label!r} has no nuance in {mapping_file}: add it under "
                    "`candidates:` (a vote in no bloc would move every bloc share)",
                )
            blocks.append((index, label))
        code_commune = str(mapping["code_commune"])
        code_departement = str(mapping["code_departement"])
        libelle = mapping.get("libelle_commune")
        for line, fields in enumerate(reader, start=2):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise SourceFormatError(
                    path, line, None, f"expected {len(header)} fields, found {len(fields)}"
                )
            inscrits = _count(fields[6], path, line, "Inscrits")
            votants = _count(fields[7], path, line, "Votants")
            code_bv = normalise_code_bv(fields[1])
            bureau = BureauRecord(
                source_line=line,
                code_departement=code_departement,
                libelle_departement=None,
                code_commune=code_commune,
                libelle_commune=libelle,
                code_bv=code_bv,
                bureau_id=make_bureau_id(code_commune, code_bv),
                inscrits=inscrits,
                votants=votants,
                abstentions=inscrits - votants,
                exprimes=_count(fields[10], path, line, "Exprimés"),
                blancs=_count(fields[8], path, line, "Blancs"),
                nuls=_count(fields[9], path, line, "Nuls"),
                code_circonscription=fields[4].strip() or None,
                code_canton=fields[3].strip() or None,
            )
            candidates = []
            for block, (index, label) in enumerate(blocks, start=1):
                nom, prenom, sexe = _split_name(label)
                candidates.append(
                    CandidateRecord(
                        block=block,
                        numero_panneau=block,
                        nuance=nuances[label],
                        nom=nom,
                        prenom=prenom,
                        sexe=sexe,
                        voix=_count(fields[index], path, line, header[index]),
                        elu=False,
                    )
                )
            yield ParsedRow(bureau=bureau, candidates=tuple(candidates))
