-- Migration 0011: alerts raised by the Airflow DAGs (failure callbacks, deadline alerts).
--
-- One row per alert, written by `pipeline.alerts` before any notifier is tried, so an alert is
-- kept even when the mail server or the webhook is down (`notified` says which channel took
-- it). The message is the task's error, cut to 2,000 characters: the project's errors name a
-- file, a line and a column, never a row's content, and no person is named here.

create table if not exists ops.alerts (
    alert_id bigint generated always as identity primary key,
    raised_at timestamptz not null default now(),
    kind text not null check (kind in ('task_failed', 'deadline_missed')),
    dag_id text not null,
    run_id text,
    task_id text,
    try_number integer,
    message text not null check (length(message) <= 2000),
    log_url text,
    notified text[] not null default '{}',
    notify_errors text[] not null default '{}'
);

comment on table ops.alerts is
    'Every alert of the Airflow DAGs: a task that failed for good (after its retries), or a '
    'publication/purge run past its deadline. Written before the notifiers are called.';
comment on column ops.alerts.kind is 'task_failed or deadline_missed.';
comment on column ops.alerts.message is
    'The error (or the deadline missed), at most 2,000 characters; never personal data.';
comment on column ops.alerts.log_url is 'The task log in the Airflow UI, when known.';
comment on column ops.alerts.notified is
    'The channels that accepted the alert: webhook, smtp. Empty: recorded only.';
comment on column ops.alerts.notify_errors is 'Why a configured channel did not take it.';

create index if not exists alerts_raised_at on ops.alerts (raised_at desc);
