-- A resource's backup schedule; pg-boss holds the matching cron (name backup-scheduled, key = resource).
create table backup_schedules (
  resource_id uuid primary key references resources (id) on delete cascade,
  frequency text not null check (frequency in ('daily', 'hourly')),
  hour integer check (hour between 0 and 23),
  minute integer not null check (minute between 0 and 59),
  time_zone text not null,
  updated_by text not null,
  updated_at timestamptz not null default now(),
  check ((frequency = 'daily') = (hour is not null))
);
