-- Migration 0010: the campaign's territory (issue 16, docs/configuration.md `territory:`).
--
-- Raw files stay whole (a national results file is loaded and checksummed once, whatever the
-- campaign); the territory restricts what dbt publishes. The `territory:` key of the campaign file
-- is written here by pipeline.dbt_runner.build before every dbt build (scrutin.warehouse.territory),
-- one row per declared code, under the campaign's id; the dbt model int_territory__bureaux reads
-- the rows of the campaign whose id the build passes as the dbt var `campaign_id`, and every mart
-- keeps only the bureaux it marks in_territory. A campaign with no row here (no `territory:` in
-- its file) covers every loaded bureau. Two campaign files over one warehouse keep their own
-- rows: each build replaces only its campaign's.

create table if not exists ops.campaign_territory (
    campaign_id  text not null,
    kind         text not null check (kind in ('commune', 'constituency', 'departement')),
    code         text not null,
    -- the campaign file the rows were read from, and when: which file decided a publication
    config_path  text not null,
    written_at   timestamptz not null default now(),
    primary key (campaign_id, kind, code)
);

comment on table ops.campaign_territory is
    'Territory of each campaign (config/campaign.yml territory:), one row per declared code; '
    'no row = the whole loaded data. Written before every dbt build, read by int_territory__bureaux';
comment on column ops.campaign_territory.code is
    'Normalised code: commune INSEE code (29019), constituency <departement>-<NN> (29-02), '
    'departement (29, 2A, 974, ZZ)';
