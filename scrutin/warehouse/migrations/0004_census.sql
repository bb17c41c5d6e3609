-- Migration 0004: INSEE census at IRIS level (base-ic themes) and Filosofi IRIS income
-- (ingestion/census/). One documented shape for every vintage and theme: see docs/census.md.
-- Column names here are an interface of the dbt staging models: add columns, never rename them.
-- batch_id points at raw.batch_ledger (source 'census', dataset_key '<theme>:<vintage>') without a
-- foreign key, like the other raw tables (a per-row FK check slows national COPY loads).

-- One row per IRIS of each loaded file: grain (vintage, theme, code_iris).
create table if not exists raw.census_iris (
    batch_id        bigint  not null,
    vintage         integer not null,   -- census year (Filosofi: income year)
    geo_year        integer not null,   -- IRIS geography of the file (1 January of that year)
    theme           text    not null,   -- population, couples_familles_menages, ...
    source_line     integer not null,   -- physical line in the data file (header = 1)
    code_iris       text    not null,   -- 9 characters, starts with code_commune
    code_commune    text    not null,   -- 5 characters (arrondissement codes for Paris/Lyon/Marseille)
    libiris         text,               -- NULL when the file has no label (base-ic 2020+)
    libcom          text,
    typ_iris        text,               -- H habitat, A activité, D divers, Z commune non irisée
    lab_iris        text,
    modif_iris      text,
    grd_quart       text,
    triris          text,
    reg             text,
    dep             text,
    unite_urbaine   text,               -- UU2010 / UU2020, whichever the file has
    loaded_at       timestamptz not null default now()
);
create index if not exists census_iris_vintage_theme on raw.census_iris (vintage, theme);
create index if not exists census_iris_batch on raw.census_iris (batch_id);

-- Every indicator cell, long: grain (vintage, theme, code_iris, prefix, indicator).
-- A masked cell (s, ns, nd, empty, '.') is value NULL, masked true, mask_code = the token.
create table if not exists raw.census_iris_values (
    batch_id        bigint  not null,
    vintage         integer not null,
    geo_year        integer not null,
    theme           text    not null,
    code_iris       text    not null,
    code_commune    text    not null,
    prefix          text    not null,   -- P (main exploitation), C (complementary), DISP, DEC
    indicator       text    not null,   -- column name without prefix and year: POP1529, MED
    value           double precision,
    masked          boolean not null default false,
    mask_code       text                -- NULL unless masked; '' for an empty cell
);
-- Unique: one value per indicator of an IRIS in a vintage and theme (the loader cannot produce a
-- duplicate, a hand edit cannot either); also the lookup path of the staging models.
create unique index if not exists census_iris_values_key
    on raw.census_iris_values (vintage, theme, indicator, code_iris, prefix);
