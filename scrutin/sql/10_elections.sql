-- Ministry of the Interior results per polling station (ingestion/loaders/elections.py).

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
    loaded_at         timestamptz not null default now()
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
    loaded_at         timestamptz not null default now()
);
create index if not exists election_results_candidate_election on raw.election_results_candidate (election_id);

