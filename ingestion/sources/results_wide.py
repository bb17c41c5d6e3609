"""Streaming parser for the wide layouts of `results_layouts.WIDE_LAYOUTS`.

Same contract as the 2024 parser (`ingestion.sources.elections.iter_results_2024`): one
`ParsedRow` per bureau, streamed; the first structural problem raises `SourceFormatError` with
the file, the physical line, the column and what was expected; a bureau that appears twice is
refused (which copy is right cannot be known). Identity checks (votes adding up to `exprimes`)
are not done here: a well-formed row that breaks them is the loader's to quarantine.

Rows of a `first_only` layout are not padded: their width must be the fixed columns plus a whole
number of blocks (one trailing empty field, from a trailing separator, is tolerated). A width
that is not — typically a row of another layout pasted into the file — is refused, and so is a
second header line (two files concatenated).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ingestion.errors import SourceFormatError
from ingestion.sources import results_layouts as L  # noqa: N812 - short alias, used a lot
from ingestion.sources.results_codes import (
    CodeError,
    commune_from_department,
    insee_departement,
    make_bureau_id,
    normalise_code_bv,
    normalise_departement,
    normalise_insee_commune,
)
from ingestion.sources.results_records import BureauRecord, CandidateRecord, ParsedRow
from ingestion.sources.results_text import DecodedLines, csv_reader, iter_records, read_header

_INT4_MAX = 2_147_483_647
_ELU_YES = frozenset({"oui", "élu", "élue", "elu", "elue"})
_ELU_NO = frozenset({"non", "non élu", "non élue", "non elu", "non elue"})
_DEP_CODE = re.compile(r"(?:[0-9]{2,3}|2[AB]|Z[A-Z])")


def parse_count(value: str, path: Path, line: int, column: str) -> int:
    """A non-negative integer that fits the warehouse's `integer`, or an error naming it."""
    text = value.strip()
    # isascii: str.isdigit also accepts digits such as '²' or Arabic-Indic numerals.
    if not (text.isdigit() and text.isascii()):
        raise SourceFormatError(
            path, line, column, f"expected a non-negative integer, got {value!r}"
        )
    number = int(text)
    if number > _INT4_MAX:
        raise SourceFormatError(
            path, line, column, f"expected a count below {_INT4_MAX + 1}, got {value!r}"
        )
    return number


class WideParser:
    """Parse the rows of one file whose header matched `match`."""

    def __init__(self, match: L.HeaderMatch, path: Path) -> None:
        self.match = match
        self.path = path
        self.layout = match.layout
        roles = match.fixed_roles
        self._fixed_index = {role: roles.index(role) for role in set(roles) if role != L.SKIP}
        self._counts = [
            (self._fixed_index[r], match.fixed_names[self._fixed_index[r]], r)
            for r in L.COUNT_ROLES
        ]
        self._block_index = {
            role: match.block_roles.index(role) for role in set(match.block_roles) if role != L.SKIP
        }
        self._required = [
            self._block_index[r] for r in self.layout.required_block_roles if r in self._block_index
        ]
        self._first_name = match.fixed_names[0]
        self.bv_column = match.fixed_names[self._fixed_index[L.BV]]
        # Index of each block role in a block, -1 when the layout lacks it (see _candidate).
        self._roles = tuple(
            self._block_index.get(role, -1)
            for role in (
                L.PANNEAU, L.VOIX, L.NUANCE, L.NOM, L.BINOME, L.PRENOM, L.SEXE, L.LISTE_ABREGE,
                L.LISTE, L.TETE, L.SIEGES, L.SIEGES_ELU, L.SIEGES_SECTEUR, L.SIEGES_CC, L.ELU,
            )
        )  # fmt: skip

    # ------------------------------------------------------------------ names for errors

    def column_name(self, index: int) -> str | None:
        """The header name of field `index` (unnamed blocks: `<first block name> (block k)`)."""
        n_fixed, width = self.match.n_fixed, self.match.width
        if index < n_fixed:
            return self.match.fixed_names[index]
        block, offset = divmod(index - n_fixed, width)
        if self.layout.naming == "numbered":
            return f"{self.match.block_names[offset]} {block + 1}"
        name = self.match.block_names[offset]
        return name if block == 0 else f"{name} (block {block + 1})"

    def _block_column(self, k: int, offset: int) -> str:
        return self.column_name(self.match.n_fixed + (k - 1) * self.match.width + offset) or "?"

    # ------------------------------------------------------------------ rows

    def check_width(self, fields: list[str], line: int) -> list[str]:
        n_fixed, width = self.match.n_fixed, self.match.width
        if self.layout.naming == "numbered":
            expected = n_fixed + width * self.match.n_header_blocks
            if len(fields) < expected:
                raise SourceFormatError(
                    self.path,
                    line,
                    self.column_name(len(fields)),
                    f"row is truncated: expected {expected} fields as in the header, got "
                    f"{len(fields)} (this column and the following ones are missing)",
                )
            if len(fields) > expected:
                raise SourceFormatError(
                    self.path,
                    line,
                    None,
                    f"row has extra fields: expected {expected} fields as in the header, "
                    f"got {len(fields)}",
                )
            return fields
        if len(fields) < n_fixed:
            raise SourceFormatError(
                self.path,
                line,
                self.match.fixed_names[len(fields)],
                f"row is truncated: expected at least the {n_fixed} fixed columns, got "
                f"{len(fields)} fields (this column and the following ones are missing)",
            )
        extra = (len(fields) - n_fixed) % width
        if extra == 1 and fields[-1] == "":
            fields = fields[:-1]  # trailing separator
            extra = 0
        if extra:
            blocks = (len(fields) - n_fixed) // width
            raise SourceFormatError(
                self.path,
                line,
                self._block_column(blocks + 1, extra),
                f"row has {len(fields)} fields: after the {n_fixed} fixed columns, candidate "
                f"blocks are {width} fields wide ({', '.join(self.match.block_names)}), so "
                f"{extra} field(s) are left over: a truncated block, or a row of another layout",
            )
        return fields

    def parse(self, fields: list[str], line: int) -> ParsedRow:
        if normalise_header_name_fast(fields[0]) == self._first_name:
            raise SourceFormatError(
                self.path,
                line,
                self._first_name,
                "a second header line in the middle of the file (two files concatenated?): "
                "split them and load each on its own",
            )
        fields = self.check_width(fields, line)
        bureau = self._bureau(fields, line)
        n_fixed, width = self.match.n_fixed, self.match.width
        n_blocks = (len(fields) - n_fixed) // width
        candidates: list[CandidateRecord] = []
        panneaux: dict[int, int] = {}
        single_choice = True
        for k in range(1, n_blocks + 1):
            start = n_fixed + (k - 1) * width
            raw = fields[start : start + width]
            if not any(raw):
                continue
            candidate, plurinominal = self._candidate(raw, k, line)
            if candidate is None:
                continue
            single_choice = single_choice and not plurinominal
            if candidate.numero_panneau in panneaux:
                raise SourceFormatError(
                    self.path,
                    line,
                    self._block_column(k, self._block_index[L.PANNEAU]),
                    f"panel number {candidate.numero_panneau} already used by candidate block "
                    f"{panneaux[candidate.numero_panneau]} of the same row",
                )
            panneaux[candidate.numero_panneau] = k
            candidates.append(candidate)
        return ParsedRow(bureau, tuple(candidates), single_choice)

    def _text(self, fields: list[str], role: str) -> str | None:
        index = self._fixed_index.get(role)
        if index is None:
            return None
        return fields[index].strip() or None

    def _bureau(self, fields: list[str], line: int) -> BureauRecord:
        i_dep, i_com, i_bv = (self._fixed_index[r] for r in (L.DEP, L.COMMUNE, L.BV))
        raw_dep, raw_com, raw_bv = (
            fields[i_dep].strip(),
            fields[i_com].strip(),
            fields[i_bv].strip(),
        )
        dep = normalise_departement(raw_dep)
        if not _DEP_CODE.fullmatch(dep):
            raise SourceFormatError(
                self.path,
                line,
                self.match.fixed_names[i_dep],
                f"expected a department code (01, 2A, 971, or ZA/ZX/ZZ…), got {fields[i_dep]!r}",
            )
        secteur = None
        try:
            if self.layout.commune_style == "dep3":
                code_commune, secteur = commune_from_department(dep, raw_com)
            else:
                code_commune = normalise_insee_commune(raw_com)
        except CodeError as exc:
            raise SourceFormatError(
                self.path, line, self.match.fixed_names[i_com], str(exc)
            ) from None
        code_bv = normalise_code_bv(raw_bv)
        if not code_bv:
            raise SourceFormatError(
                self.path,
                line,
                self.match.fixed_names[i_bv],
                "expected a bureau code, got an empty field",
            )
        counts = {
            role: parse_count(fields[i], self.path, line, name) for i, name, role in self._counts
        }
        if self.layout.commune_style == "dep3":
            id_brut = f"{raw_dep}{raw_com}_{raw_bv}"
            code_dep = insee_departement(dep, code_commune)
        else:
            id_brut = f"{raw_com}_{raw_bv}"
            code_dep = dep
        return BureauRecord(
            source_line=line,
            code_departement=code_dep,
            libelle_departement=self._text(fields, L.LIB_DEP),
            code_commune=code_commune,
            libelle_commune=self._text(fields, L.LIB_COMMUNE),
            code_bv=code_bv,
            bureau_id=make_bureau_id(code_commune, code_bv),
            inscrits=counts[L.INSCRITS],
            votants=counts[L.VOTANTS],
            abstentions=counts[L.ABSTENTIONS],
            exprimes=counts[L.EXPRIMES],
            blancs=counts[L.BLANCS],
            nuls=counts[L.NULS],
            id_brut_miom=id_brut,
            code_circonscription=self._text(fields, L.CIRC),
            libelle_circonscription=self._text(fields, L.LIB_CIRC),
            code_canton=self._text(fields, L.CANTON),
            libelle_canton=self._text(fields, L.LIB_CANTON),
            code_secteur=secteur,
        )

    def _candidate(self, raw: list[str], k: int, line: int) -> tuple[CandidateRecord | None, bool]:
        """One filled block. Written for speed (a national file has ~800,000 blocks): indices
        are precomputed, valid values take the inline path, anything unusual falls back to the
        validators that build the error."""
        values = [v.strip() for v in raw]
        for i in self._required:
            if not values[i]:
                self._refuse_partial(values, i, k, line)
        (i_pan, i_voix, i_nuance, i_nom, i_binome, i_prenom, i_sexe, i_abrege, i_liste, i_tete,
         i_sieges, i_sieges_elu, i_secteur, i_cc, i_elu) = self._roles  # fmt: skip
        panneau_text, voix_text = values[i_pan], values[i_voix]
        panneau = (
            int(panneau_text)
            if panneau_text.isdigit() and panneau_text.isascii() and len(panneau_text) < 10
            else parse_count(panneau_text, self.path, line, self._block_column(k, i_pan))
        )
        voix = (
            int(voix_text)
            if voix_text.isdigit() and voix_text.isascii() and len(voix_text) < 10
            else parse_count(voix_text, self.path, line, self._block_column(k, i_voix))
        )
        sieges = self._count(values, i_sieges, k, line) if i_sieges >= 0 else None
        elu = plurinominal = False
        if i_sieges_elu >= 0 and values[i_sieges_elu]:
            text = values[i_sieges_elu]
            folded = unicodedata.normalize("NFC", text).casefold()
            if text.isdigit() and text.isascii():
                sieges = self._count(values, i_sieges_elu, k, line)
            elif folded in _ELU_YES or folded in _ELU_NO:
                # Plurinominal ballot (a voter may tick several names): elected yes/no.
                plurinominal, elu = True, folded in _ELU_YES
            else:
                raise SourceFormatError(
                    self.path,
                    line,
                    self._block_column(k, i_sieges_elu),
                    f"expected a number of seats or Oui/Non (elected), got {text!r}",
                )
        if i_elu >= 0 and values[i_elu]:
            if unicodedata.normalize("NFC", values[i_elu]).casefold() not in _ELU_YES:
                raise SourceFormatError(
                    self.path,
                    line,
                    self._block_column(k, i_elu),
                    f"expected 'élu' or an empty field, got {values[i_elu]!r}",
                )
            elu = True
        if sieges:
            elu = True
        values.append("")  # index -1: a role the layout does not have reads as empty
        # Positional: a slotted dataclass __init__ is measurably slower with 14 keywords.
        return (
            CandidateRecord(
                k,
                panneau,
                values[i_nuance] or None,
                values[i_nom] or values[i_binome] or None,
                values[i_prenom] or None,
                values[i_sexe] or None,
                voix,
                elu,
                values[i_abrege] or None,
                values[i_liste] or None,
                values[i_tete] or None,
                sieges,
                self._count(values, i_secteur, k, line) if i_secteur >= 0 else None,
                self._count(values, i_cc, k, line) if i_cc >= 0 else None,
            ),
            plurinominal,
        )

    def _count(self, values: list[str], i: int, k: int, line: int) -> int | None:
        if i < 0 or not values[i]:
            return None
        return parse_count(values[i], self.path, line, self._block_column(k, i))

    def _refuse_partial(self, values: list[str], missing: int, k: int, line: int) -> None:
        filled = next(j for j, v in enumerate(values) if v)
        raise SourceFormatError(
            self.path,
            line,
            self._block_column(k, missing),
            f"candidate block {k} is partially filled: this field is empty while "
            f"{self._block_column(k, filled)!r} is {values[filled]!r} (a block is either "
            f"entirely empty or has {', '.join(self.layout.required_block_roles)})",
        )


def normalise_header_name_fast(value: str) -> str:
    """Cheap pre-check for a repeated header: most fields are codes, never header names."""
    text = value.strip()
    if not text or text[0].isdigit():
        return text
    return L.normalise_header_name(text)


def iter_wide(path: str | Path, layout: str | L.WideLayout) -> Iterator[ParsedRow]:
    """Stream the data rows of a wide-layout file, one `ParsedRow` per bureau."""
    path = Path(path)
    spec = layout if isinstance(layout, L.WideLayout) else L.WIDE_LAYOUTS[layout]
    with path.open("rb") as fh:
        lines = DecodedLines(fh, path, spec.encoding, layout_label=f"layout {spec.name}")
        reader = csv_reader(lines)
        header = read_header(reader, path)
        try:
            match = L.match_header(spec, header, path)
        except L.LayoutMismatch as exc:
            raise exc.error from None
        parser = WideParser(match, path)
        lines.column_of = parser.column_name
        seen: dict[str, int] = {}
        for line, fields in iter_records(reader, path):
            row = parser.parse(fields, line)
            first = seen.setdefault(row.bureau.bureau_id, line)
            if first != line:
                raise SourceFormatError(
                    path,
                    line,
                    parser.bv_column,
                    f"bureau {row.bureau.bureau_id} already appears on line {first}",
                )
            yield row
