"""Versioned migrations, the pure part: file names, ordering, checksum refusal (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrutin.warehouse.migrate import (
    AppliedMigration,
    Migration,
    MigrationError,
    migration_from_text,
    packaged_migrations,
    parse_file_name,
    pending_migrations,
    read_migrations,
)


def _migration(version: int, name: str, sql: str = "select 1;") -> Migration:
    return migration_from_text(f"{version:04d}_{name}.sql", sql.encode())


def _applied(*migrations: Migration) -> dict[int, AppliedMigration]:
    return {m.version: AppliedMigration(m.version, m.name, m.checksum) for m in migrations}


def test_file_names_give_version_and_name() -> None:
    assert parse_file_name("0012_add_canvass_index.sql") == (12, "add_canvass_index")


@pytest.mark.parametrize(
    "file_name", ["12_core.sql", "0001-core.sql", "0001_Core.sql", "0001_core.SQL", "core.sql"]
)
def test_a_misnamed_migration_is_refused_by_name(file_name: str) -> None:
    with pytest.raises(MigrationError, match=file_name.replace(".", r"\.")):
        parse_file_name(file_name)


def test_folder_is_read_in_version_order_not_name_order(tmp_path: Path) -> None:
    (tmp_path / "0010_later.sql").write_text("select 10;")
    (tmp_path / "0002_second.sql").write_text("select 2;")
    (tmp_path / "0001_first.sql").write_text("select 1;")
    (tmp_path / "README.md").write_text("not a migration")
    assert [m.file_name for m in read_migrations(tmp_path)] == [
        "0001_first.sql",
        "0002_second.sql",
        "0010_later.sql",
    ]


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0003_alpha.sql").write_text("select 1;")
    (tmp_path / "0003_beta.sql").write_text("select 2;")
    with pytest.raises(MigrationError, match=r"0003_alpha\.sql and 0003_beta\.sql share version"):
        read_migrations(tmp_path)


def test_a_stray_sql_file_in_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("select 1;")
    (tmp_path / "fix.sql").write_text("select 2;")
    with pytest.raises(MigrationError, match=r"fix\.sql"):
        read_migrations(tmp_path)


def test_checksum_is_the_sha256_of_the_bytes() -> None:
    a, b = _migration(1, "core", "select 1;"), _migration(1, "core", "select 1; ")
    assert len(a.checksum) == 64 and a.checksum != b.checksum


def test_pending_are_the_unapplied_ones_in_order() -> None:
    one, two, three = _migration(1, "a"), _migration(2, "b"), _migration(3, "c")
    assert pending_migrations([three, one, two], {}) == [one, two, three]
    assert pending_migrations([three, one, two], _applied(one)) == [two, three]
    assert pending_migrations([one, two, three], _applied(one, two, three)) == []


def test_an_edited_applied_migration_is_refused_naming_its_file() -> None:
    original = _migration(2, "elections", "create table t (a int);")
    edited = _migration(2, "elections", "create table t (a int, b int);")
    with pytest.raises(MigrationError, match=r"0002_elections\.sql changed after it was applied"):
        pending_migrations(
            [_migration(1, "core"), edited], _applied(_migration(1, "core"), original)
        )


def test_an_applied_migration_missing_from_the_code_is_refused() -> None:
    one, two = _migration(1, "core"), _migration(2, "newer")
    with pytest.raises(MigrationError, match=r"0002_newer applied, which this code does not have"):
        pending_migrations([one], _applied(one, two))


def test_a_new_migration_numbered_below_the_latest_applied_is_refused() -> None:
    one, two, three = _migration(1, "a"), _migration(2, "late"), _migration(3, "c")
    with pytest.raises(MigrationError, match=r"0002_late\.sql numbered below .* 0003"):
        pending_migrations([one, two, three], _applied(one, three))


def test_the_packaged_migrations_start_at_one_without_gaps() -> None:
    versions = [m.version for m in packaged_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert packaged_migrations()[0].file_name == "0001_core.sql"


def test_no_packaged_migration_guards_an_alter_in_a_do_block() -> None:
    """The layout changes by new migrations, not by DDL hidden in `do` blocks run on every load."""
    for migration in packaged_migrations():
        assert "do $$" not in migration.sql.lower(), migration.file_name
