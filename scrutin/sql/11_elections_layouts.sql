-- Columns for every Ministry results layout (ingestion/sources/results_*.py, docs/results-layouts.md),
-- applied after 10_elections.sql by scrutin.db.ensure_warehouse, idempotently.
-- Every added column is nullable: a layout that does not publish a field leaves it null, and rows
-- loaded before this file keep their values.
--
-- Why the guard: ensure_warehouse runs before every load, and `alter table` takes an ACCESS
-- EXCLUSIVE lock on the table even when `add column if not exists` finds the column already
-- there. Two concurrent loads then deadlock (one holds the table, the other the ledger). The
-- `alter table ... add column if not exists` below only runs when a column is actually missing.

do $$
declare
    wanted constant text[][] := array[
        ['election_results_bureau', 'layout', 'text'],
        ['election_results_bureau', 'id_brut_miom', 'text'],
        ['election_results_bureau', 'code_circonscription', 'text'],
        ['election_results_bureau', 'libelle_circonscription', 'text'],
        ['election_results_bureau', 'code_canton', 'text'],
        ['election_results_bureau', 'libelle_canton', 'text'],
        -- Paris/Lyon/Marseille sector (`SR01`) or Polynesian section (`SN01`), municipales.
        ['election_results_bureau', 'code_secteur', 'text'],
        ['election_results_candidate', 'id_brut_miom', 'text'],
        ['election_results_candidate', 'liste_libelle_abrege', 'text'],
        ['election_results_candidate', 'liste_libelle', 'text'],
        ['election_results_candidate', 'tete_de_liste', 'text'],
        ['election_results_candidate', 'sieges', 'integer'],
        ['election_results_candidate', 'sieges_secteur', 'integer'],
        ['election_results_candidate', 'sieges_cc', 'integer']
    ];
    i integer;
begin
    for i in 1 .. array_length(wanted, 1) loop
        if not exists (
            select 1
            from information_schema.columns
            where table_schema = 'raw'
                and table_name = wanted[i][1]
                and column_name = wanted[i][2]
        ) then
            execute format(
                'alter table raw.%I add column if not exists %I %s',
                wanted[i][1],
                wanted[i][2],
                wanted[i][3]
            );
        end if;
    end loop;

    if obj_description('raw.election_results_bureau'::regclass, 'pg_class') is null then
        comment on table raw.election_results_bureau is
            'Ministry per-bureau results, one row per (election, bureau), every layout (docs/results-layouts.md)';
        comment on column raw.election_results_bureau.layout is
            'Results layout the row was parsed from (minint_2024, minint_2017_legi, datagouv_general, ...)';
        comment on column raw.election_results_bureau.id_brut_miom is
            'data.gouv harmonised bureau key (<dept><commune>_<bureau> as published), joins the data.gouv files';
        comment on column raw.election_results_candidate.sieges is
            'Seats won by the list (list ballots), null where the layout does not publish seats';
    end if;
end
$$;
