-- Migration 0003: Electoral roll: INSEE's REU polling-station tables and the campaign's roll
-- extract, aggregated. Loaders: ingestion/loaders/reu.py, ingestion/loaders/roll.py.
-- Documentation: docs/electoral-roll.md.
--
-- Keys shared with the results tables:
--   bureau_id = <code_commune_results>_<code_bv>, code_bv zero-padded to 4 digits when numeric
--   (the Ministry key of raw.election_results_bureau). code_commune keeps the code as published
--   by INSEE (Paris/Lyon/Marseille arrondissements 75101-75120, 69381-69389, 13201-13216);
--   code_commune_results is the commune code the results use (75056, 69123, 13055).
-- A new file replaces the rows of the communes it covers; raw tables carry no FK to the ledger
-- (see 0002_elections.sql for why).

-- table-bv-reu: one row per REU polling station, as published.
create table if not exists raw.reu_bureaux (
    batch_id              bigint  not null,
    source_line           integer not null,
    id_brut_reu           text    not null,   -- REU key `<commune>_<code>`, not zero-padded
    id_brut_insee         text,
    id_brut_miom          text,               -- the Ministry of the Interior's key, when published
    code_commune          text    not null,   -- as published (arrondissement code for PLM)
    code_commune_results  text    not null,   -- commune code of the results files
    code                  text    not null,   -- REU bureau code, as published
    code_bv               text    not null,   -- normalised: zero-padded to 4 digits when numeric
    bureau_id             text    not null,   -- <code_commune_results>_<code_bv>
    libelle_reu           text,
    num_voie_reu          text,
    voie_reu              text,
    cp_reu                text,
    commune_reu           text,
    nb_adresses_initial   integer,
    nb_adresses_final     integer,
    loaded_at             timestamptz not null default now()
);
create index if not exists reu_bureaux_batch on raw.reu_bureaux (batch_id);
create index if not exists reu_bureaux_commune on raw.reu_bureaux (code_commune);

-- table-adresses-reu: one row per geocoded (address point, bureau) of the REU, as published.
-- Exact duplicate rows are kept: they are distinct REU rows (see docs/electoral-roll.md).
create table if not exists raw.reu_addresses (
    batch_id                     bigint  not null,
    source_line                  integer not null,
    code_commune_ref             text    not null,
    reconstitution_code_commune  text,
    id_brut_bv_reu               text    not null,   -- REU bureau key `<commune>_<code>`
    code_commune                 text    not null,   -- commune prefix of id_brut_bv_reu
    code_commune_results         text    not null,
    code_bv                      text    not null,
    bureau_id                    text    not null,
    ban_id                       text,               -- the published column `id` (BAN id)
    geo_adresse                  text,               -- geocoded address label (public open data)
    geo_type                     text,
    geo_score                    double precision,
    longitude                    double precision not null,
    latitude                     double precision not null,
    api_line                     text,
    nb_bv_commune                integer,
    nb_adresses                  integer not null,
    address_key                  text,               -- sha256 of the normalised geo_adresse
    loaded_at                    timestamptz not null default now()
);
create index if not exists reu_addresses_batch on raw.reu_addresses (batch_id);
create index if not exists reu_addresses_commune on raw.reu_addresses (code_commune);

-- The campaign's roll extract (article L37), aggregated while it is read: no name, birth date or
-- address is ever stored. Exact counts (small cells included): raw is never published.
create table if not exists raw.roll_bureau_counts (
    batch_id              bigint  not null,
    reference_date        date    not null,   -- ages are computed at this date
    code_commune          text    not null,
    code_commune_results  text    not null,
    code_bv               text    not null,
    bureau_id             text    not null,
    list_type             text    not null check (list_type in ('LP', 'LCM', 'LCE')),
    age_band              text    not null
        check (age_band in ('18-24', '25-34', '35-49', '50-64', '65-74', '75+')),
    sex                   text    not null check (sex in ('F', 'M', 'X')),
    voters                integer not null,
    loaded_at             timestamptz not null default now()
);
create index if not exists roll_bureau_counts_batch on raw.roll_bureau_counts (batch_id);
create index if not exists roll_bureau_counts_commune on raw.roll_bureau_counts (code_commune);

-- Doors: distinct normalised addresses per bureau (the addresses are hashed in memory only).
create table if not exists raw.roll_bureau_doors (
    batch_id              bigint  not null,
    reference_date        date    not null,
    code_commune          text    not null,
    code_commune_results  text    not null,
    code_bv               text    not null,
    bureau_id             text    not null,
    doors                 integer not null,
    loaded_at             timestamptz not null default now()
);
create index if not exists roll_bureau_doors_batch on raw.roll_bureau_doors (batch_id);
create index if not exists roll_bureau_doors_commune on raw.roll_bureau_doors (code_commune);
