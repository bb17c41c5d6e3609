-- What publishing canvass_progress per bureau, in place, would cost, against writing it whole as
-- publication does now (docs/performance.md, section 2026-12-07). A measurement, not a feature:
-- it works on a scratch copy of the published table and drops it at the end.
--
--   psql "$URL" -v spread=10000 -v day=300 -f benchmarks/sql/inplace_canvass_progress.sql
--
-- spread: the bureaux a delivery spread over every bureau and day touches (bench-national's
-- default delivery: 10,000 knocks reach about 9,300 bureaux); their rows are deleted and written
-- again in one transaction. day: an app's export of one day, whose bureaux are rewritten the same
-- way, plus the row the campaign's new latest day adds to every canvassed bureau's calendar.
\timing on
drop schema if exists scratch_inplace cascade;
create schema scratch_inplace;
create table scratch_inplace.cp (like mart.canvass_progress including constraints including indexes);
insert into scratch_inplace.cp select * from mart.canvass_progress;
vacuum analyze scratch_inplace.cp;

create temp table spread_bureaux as
select bureau_id from (select distinct bureau_id from mart.canvass_progress) as b
order by md5(bureau_id) limit :spread;
create temp table spread_rows as
select c.* from mart.canvass_progress as c inner join spread_bureaux using (bureau_id);
\echo 'in place, spread delivery:'
begin;
delete from scratch_inplace.cp as c using spread_bureaux as t where c.bureau_id = t.bureau_id;
insert into scratch_inplace.cp select * from spread_rows;
commit;

create temp table day_bureaux as
select bureau_id from (select distinct bureau_id from mart.canvass_progress) as b
order by md5(bureau_id || 'day') limit :day;
create temp table day_rows as
select c.* from mart.canvass_progress as c inner join day_bureaux using (bureau_id);
create temp table new_day as
select
    campaign_id, bureau_id, code_commune, code_bv, day + 1 as day, 0 as doors_knocked,
    0 as conversations, doors_knocked_to_date, conversations_to_date,
    buildings_visited_to_date, bureau_doors, coverage
from mart.canvass_progress
where day = (select max(day) from mart.canvass_progress);
\echo 'in place, one day export:'
begin;
delete from scratch_inplace.cp as c using day_bureaux as t where c.bureau_id = t.bureau_id;
insert into scratch_inplace.cp select * from day_rows;
insert into scratch_inplace.cp select * from new_day;
commit;

\echo 'whole, as publication writes it now (rows, then the two indexes):'
create table scratch_inplace.cp_whole (like mart.canvass_progress including constraints);
insert into scratch_inplace.cp_whole select * from mart.canvass_progress;
create index on scratch_inplace.cp_whole (campaign_id, day, bureau_id);
create index on scratch_inplace.cp_whole (campaign_id, bureau_id, day);
drop schema scratch_inplace cascade;
