-- Migration 0006: Door-to-door feedback from canvassing-app exports (ingestion/canvass/).
-- Pseudonymous by construction: no name, phone, e-mail, free text or coordinates is ever stored;
-- canvasser and building are HMAC-SHA256 keys made with the campaign's secret before landing.

-- One row per door knock, upserted by (source, knock_id): the same knock delivered again changes
-- nothing, a later version of it (newer source_updated_at) replaces it.
-- Conversation-only fields (topics .. consent) are NULL unless outcome = 'opened_conversation'.
create table if not exists raw.canvass_knocks (
    source              text        not null,  -- qomon | ecanvasser | nationbuilder | osdi | pap
    knock_id            text        not null,  -- the app's own id of the knock
    campaign_id         text        not null,
    canvasser_key       text        not null,  -- HMAC-SHA256 hex of '<source>:<app canvasser id>'
    bureau_id           text        not null,  -- Ministry key <5-char commune>_<4-digit code bv>
    building_key        text        not null,  -- HMAC-SHA256 hex of the normalised address
    knocked_at          timestamptz not null,
    outcome             text        not null,
    topics              text[],
    intends_to_vote     text,
    registered_here     boolean,
    sentiment           text,
    wants_to_volunteer  boolean,
    consent             boolean,
    integrity_flags     text[]      not null default '{}',
    batch_id            bigint      not null,  -- the batch that last wrote the row
    loaded_at           timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    -- Added to the issue's layout: the app's version time of the knock (its modification time,
    -- else knocked_at); the upsert only replaces a row with a strictly newer version.
    source_updated_at   timestamptz not null,
    constraint canvass_knocks_source_knock_id unique (source, knock_id)
);
create index if not exists canvass_knocks_canvasser on raw.canvass_knocks (canvasser_key);
create index if not exists canvass_knocks_building on raw.canvass_knocks (building_key);

-- Running totals per canvasser and campaign (added to the issue's layout): the contact-rate
-- check reads them instead of re-counting every knock of a canvasser at each 15-minute delivery.
-- `flagged` is the verdict currently written on the canvasser's knocks.
create table if not exists raw.canvass_canvasser_totals (
    campaign_id    text    not null,
    canvasser_key  text    not null,
    knocks         integer not null,
    conversations  integer not null,
    flagged        boolean not null default false,
    primary key (campaign_id, canvasser_key)
);

-- Opposition register: a building where someone asked not to be contacted again.
-- first_seen_at is the earliest do_not_contact knock; later knocks there are flagged.
create table if not exists raw.canvass_suppression (
    building_key   text        primary key,
    first_seen_at  timestamptz not null,
    source         text        not null,
    loaded_at      timestamptz not null default now()
);

-- Rows a canvass loader refused, with where and why. Never the row's content: it may hold PII.
create table if not exists quarantine.canvass_rows (
    batch_id        bigint      not null,
    source          text        not null,
    file_name       text        not null,
    line_no         integer,
    reason          text        not null,
    column_name     text,
    quarantined_at  timestamptz not null default now()
);
create index if not exists canvass_rows_batch on quarantine.canvass_rows (batch_id);

-- raw.batch_ledger.rows_duplicate (the canvass reconciliation) is in 0001_core.sql.

-- The campaigns whose knocks are in raw.canvass_knocks, with the retention they were loaded
-- under (written from config/campaign.yml by every canvass load). The purge and the retention
-- quality check read it, so they do not depend on which campaign file is configured today.
create table if not exists ops.canvass_campaigns (
    campaign_id        text        primary key,
    election_date      date        not null,
    campaign_start     date        not null,
    retention_days     integer     not null,
    k_min              integer     not null,
    retention_ends_at  timestamptz not null,
    params_hash        text        not null,
    updated_at         timestamptz not null default now()
);

-- Every purge run (dry runs included), one row per campaign considered.
create table if not exists ops.purge_log (
    purge_id                  bigserial   primary key,
    run_id                    text        not null,
    dry_run                   boolean     not null,
    forced                    boolean     not null default false,
    campaign_id               text        not null,
    retention_ends_at         timestamptz not null,
    reference_publication_id  bigint,
    reference_published_at    timestamptz,
    rows_expired              integer     not null,
    rows_deleted              integer     not null,
    rows_kept_not_aggregated  integer     not null,
    started_at                timestamptz not null,
    finished_at               timestamptz not null default clock_timestamp()
);
