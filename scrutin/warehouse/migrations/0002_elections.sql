-- Migration 0002: Ministry of the Interior results per polling station, every layout
-- (ingestion/loaders/elections.py, ingestion/sources/results_*.py, docs/results-layouts.md).
-- The layout columns (layout .. code_secteur, id_brut_miom .. sieges_cc) are nullable: a layout
-- that does not publish a field leaves it null. They come last, in the order in which the former
-- guarded ALTERs added them, so a warehouse built either way has the same columns in the same order.

-- Ministry per-bureau results, one row per (election, bureau).
-- batch_id points at raw.batch_ledger without a foreign key: the loader writes the ledger row and
-- the data in one transaction, and a per-row FK check made national COPY loads ~4x slower.
create table if not exists raw.election_results_bureau (
    batch_id          bigint  not null,
    election_id       text    not null,
    source_line       integer not null,
    code_departement  text    not null,
    libelle_departement text,
    code_commune      text    not null,
    libelle_commune   text,
    code_bv           text    not null,
    bureau_id         text    not null,
    inscrits          integer not null,
    votants           integer not null,
    abstentions       integer not null,
    exprimes          integer not null,
    blancs            integer not null,
    nuls              integer not null,
    loaded_at         timestamptz not null default now(),
    layout            text,
    id_brut_miom      text,
    code_circonscription text,
    libelle_circonscription text,
    code_canton       text,
    libelle_canton    text,
    -- Paris/Lyon/Marseille sector (`SR01`) or Polynesian section (`SN01`), municipales.
    code_secteur      text
);
create index if not exists election_results_bureau_election on raw.election_results_bureau (election_id);

-- One row per (election, bureau, candidate or list). Candidate names are public information.
create table if not exists raw.election_results_candidate (
    batch_id          bigint  not null,
    election_id       text    not null,
    source_line       integer not null,
    code_commune      text    not null,
    code_bv           text    not null,
    bureau_id         text    not null,
    numero_panneau    integer not null,
    nuance            text,
    nom               text,
    prenom            text,
    sexe              text,
    voix              integer not null,
    elu               boolean not null default false,
    loaded_at         timestamptz not null default now(),
    id_brut_miom      text,
    liste_libelle_abrege text,
    liste_libelle     text,
    tete_de_liste     text,
    sieges            integer,
    sieges_secteur    integer,
    sieges_cc         integer
);
create index if not exists election_results_candidate_election on raw.election_results_candidate (election_id);


comment on table raw.election_results_bureau is
    'Ministry per-bureau results, one row per (election, bureau), every layout (docs/results-layouts.md)';
comment on column raw.election_results_bureau.layout is
    'Results layout the row was parsed from (minint_2024, minint_2017_legi, datagouv_general, ...)';
comment on column raw.election_results_bureau.id_brut_miom is
    'data.gouv harmonised bureau key (<dept><commune>_<bureau> as published), joins the data.gouv files';
comment on column raw.election_results_candidate.sieges is
    'Seats won by the list (list ballots), null where the layout does not publish seats';
