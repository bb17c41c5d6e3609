-- Migration 0017: several campaigns in one warehouse (issue 14, docs/architecture.md "Several
-- campaigns, one warehouse").
--
-- The canvass and score marts carry campaign_id; each campaign's BI role reads only its rows,
-- by PostgreSQL row-level security on those tables. This table says which role reads which
-- campaign: written by `scrutin setup` (the role of SCRUTIN_BI_ROLE, for the campaign of the
-- campaign file) and `scrutin campaign grant-bi`; read by every publication swap, which
-- re-creates one policy per row on every campaign table of `mart` (pipeline/campaign_access.py).
-- A role is never remapped to another campaign (the command refuses).

create table if not exists ops.campaign_bi_roles (
    role_name    text        primary key check (role_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    campaign_id  text        not null check (campaign_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    granted_at   timestamptz not null default now()
);

comment on table ops.campaign_bi_roles is
    'Which BI role reads which campaign''s rows of mart (row-level security policies, '
    're-applied at every publication)';
