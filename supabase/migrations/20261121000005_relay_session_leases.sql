-- Relay storage, part 5: per-user limits that hold across every relay instance.
--
--   * session_leases: one row per running relay session. A user may hold at most N live leases
--     (MAX_SESSIONS_PER_USER). Leases expire unless renewed, so an instance that crashes (or loses the
--     database) cannot lock its users out: its leases lapse and the next acquire reclaims them.
--   * relay_user_limits: a user's own daily quota, overriding the relay's configured defaults.
--   * relay_user_usage_since(): seconds and cost spent since a given time, with the user's limits.
--
-- Only the service role (the relay) may call the functions; users may read their own rows. All times
-- are database time, so the relay instances' clocks do not matter for expiry.
-- A lease's session_id is the relay's session id, i.e. the id of its voice_sessions row: reclaiming a
-- lost session's lease also closes the voice_sessions row it left open.
-- Additive and re-runnable.

create table if not exists public.session_leases (
  -- The relay's session id (= voice_sessions.id once that row is written).
  session_id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  -- Which relay instance holds the session (for operators; not used for decisions).
  instance_id text not null,
  acquired_at timestamptz not null default now(),
  -- Database time after which the lease no longer counts and may be reclaimed.
  expires_at timestamptz not null
);

create index if not exists session_leases_user_id_expires_at_idx on public.session_leases (user_id, expires_at);
create index if not exists session_leases_expires_at_idx on public.session_leases (expires_at);

create table if not exists public.relay_user_limits (
  user_id uuid primary key references auth.users (id) on delete cascade,
  -- Seconds of voice per day; null: the relay's configured default. 0 blocks the user.
  daily_seconds integer constraint relay_user_limits_daily_seconds_check check (daily_seconds >= 0),
  -- US dollars of Realtime usage per day; null: the relay's configured default.
  daily_usd numeric(12, 4) constraint relay_user_limits_daily_usd_check check (daily_usd >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

drop trigger if exists relay_user_limits_touch_updated_at on public.relay_user_limits;
create trigger relay_user_limits_touch_updated_at
  before update on public.relay_user_limits
  for each row execute function public.relay_touch_updated_at();

-- Users read their own rows; nobody but the service role writes. On Supabase new tables come with
-- privileges for anon and authenticated (default privileges), so they are revoked explicitly: a user
-- must never be able to raise their own quota or forge a lease, even if a permissive policy is added.
alter table public.session_leases enable row level security;
drop policy if exists "relay: read own session leases" on public.session_leases;
create policy "relay: read own session leases" on public.session_leases
  for select to authenticated
  using (user_id = (select auth.uid()));

alter table public.relay_user_limits enable row level security;
drop policy if exists "relay: read own limits" on public.relay_user_limits;
create policy "relay: read own limits" on public.relay_user_limits
  for select to authenticated
  using (user_id = (select auth.uid()));

revoke all on table public.session_leases, public.relay_user_limits from public, anon, authenticated;
grant select on table public.session_leases, public.relay_user_limits to authenticated;
grant select, insert, update, delete on table public.session_leases, public.relay_user_limits to service_role;

-- Takes a lease for a session unless the user already holds p_max_sessions live ones.
-- Returns {"acquired": bool, "active": int}: active counts the user's live leases afterwards (with this
-- one when acquired). Calling it again for a session that holds a live lease renews it (acquired, not
-- counted twice). A session id already leased to another user is an error (23505).
create or replace function public.relay_acquire_session_lease(
  p_session_id uuid,
  p_user_id uuid,
  p_instance_id text,
  p_max_sessions integer,
  p_ttl_seconds integer
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_now timestamptz;
  v_expires timestamptz;
  v_active integer;
begin
  if p_session_id is null or p_user_id is null or coalesce(p_instance_id, '') = '' then
    raise exception 'relay_acquire_session_lease: session id, user id and instance id are required'
      using errcode = '22023';
  end if;
  if p_max_sessions is null or p_max_sessions < 1 then
    raise exception 'relay_acquire_session_lease: max sessions must be at least 1, got %', p_max_sessions
      using errcode = '22023';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds < 1 or p_ttl_seconds > 86400 then
    raise exception 'relay_acquire_session_lease: ttl must be 1..86400 seconds, got %', p_ttl_seconds
      using errcode = '22023';
  end if;

  -- One acquirer per user at a time, whatever the instance or connection: the count and the insert
  -- below are one atomic step. The two-key form is a lock space of its own (the migration runner uses
  -- a bigint key); a hash collision between two users only makes them wait for each other.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtext('relay_session_leases'), pg_catalog.hashtext(p_user_id::text));
  -- Read after the lock, so time spent waiting for it neither shortens the lease nor counts a lease
  -- that expired meanwhile as live.
  v_now := pg_catalog.clock_timestamp();
  v_expires := v_now + pg_catalog.make_interval(secs => p_ttl_seconds);

  -- Reclaim the user's expired leases (their instance crashed, or lost the database long enough), and
  -- close the voice_sessions rows they left open at the lease's expiry. If that instance is alive after
  -- all, its own session end overwrites ended_at later.
  with reclaimed as (
    delete from public.session_leases
     where user_id = p_user_id and expires_at <= v_now
    returning session_id, expires_at
  )
  update public.voice_sessions v
     set ended_at = r.expires_at,
         close_reason = 'lease expired: the relay instance stopped renewing it'
    from reclaimed r
   where v.id = r.session_id and v.ended_at is null;

  -- The same session again: a renewal.
  update public.session_leases
     set expires_at = v_expires, instance_id = p_instance_id
   where session_id = p_session_id and user_id = p_user_id;
  if found then
    select count(*) into v_active from public.session_leases where user_id = p_user_id and expires_at > v_now;
    return pg_catalog.jsonb_build_object('acquired', true, 'active', v_active);
  end if;

  perform 1 from public.session_leases where session_id = p_session_id;
  if found then
    raise exception 'relay_acquire_session_lease: session % is leased to another user', p_session_id
      using errcode = '23505';
  end if;

  select count(*) into v_active from public.session_leases where user_id = p_user_id and expires_at > v_now;
  if v_active >= p_max_sessions then
    return pg_catalog.jsonb_build_object('acquired', false, 'active', v_active);
  end if;

  insert into public.session_leases (session_id, user_id, instance_id, acquired_at, expires_at)
  values (p_session_id, p_user_id, p_instance_id, v_now, v_expires);
  return pg_catalog.jsonb_build_object('acquired', true, 'active', v_active + 1);
end
$$;

-- Extends a lease to now + p_ttl_seconds. False when the lease is gone (released, or expired and
-- reclaimed): the caller then holds no slot and must acquire again (which may be refused).
-- A lease that expired but was not reclaimed yet is renewed: nobody took its slot (acquire reclaims
-- expired leases before it counts), so renewing it cannot exceed the limit.
-- p_cost_usd, when given, is the session's cost so far: it is written to its open voice_sessions row,
-- so quotas see the spending of sessions that are still running (recordSessionEnd writes the final one).
create or replace function public.relay_renew_session_lease(
  p_session_id uuid,
  p_ttl_seconds integer,
  p_cost_usd numeric default null
) returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_ttl_seconds is null or p_ttl_seconds < 1 or p_ttl_seconds > 86400 then
    raise exception 'relay_renew_session_lease: ttl must be 1..86400 seconds, got %', p_ttl_seconds
      using errcode = '22023';
  end if;
  if p_cost_usd < 0 then
    raise exception 'relay_renew_session_lease: cost must not be negative, got %', p_cost_usd
      using errcode = '22023';
  end if;
  -- Row locks order this against a concurrent acquire's reclaim: whichever comes second sees the
  -- other's result (a renewed lease is no longer expired; a reclaimed one is gone).
  update public.session_leases
     set expires_at = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => p_ttl_seconds)
   where session_id = p_session_id;
  if not found then
    return false;
  end if;
  if p_cost_usd is not null then
    update public.voice_sessions set cost_usd = p_cost_usd where id = p_session_id and ended_at is null;
  end if;
  return true;
end
$$;

-- Frees a session's lease (idempotent). Also sweeps up to 100 expired leases of any user, closing the
-- voice_sessions rows they left open, so lost instances leave nothing behind for users who never
-- come back. Rows another transaction holds are skipped, never waited for.
create or replace function public.relay_release_session_lease(p_session_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  delete from public.session_leases where session_id = p_session_id;

  with swept as (
    delete from public.session_leases
     where session_id in (
       select s.session_id
         from public.session_leases s
        where s.expires_at <= pg_catalog.clock_timestamp()
        order by s.expires_at
        limit 100
          for update skip locked)
    returning session_id, expires_at
  )
  update public.voice_sessions v
     set ended_at = s.expires_at,
         close_reason = 'lease expired: the relay instance stopped renewing it'
    from swept s
   where v.id = s.session_id and v.ended_at is null;
end
$$;

-- What a user spent since p_since, for daily quotas, and the user's own limits:
--   {"seconds": n, "cost_usd": n, "limits": {"daily_seconds": int|null, "daily_usd": n|null}}
-- Each voice session counts for the part of it after p_since: its seconds in the window, and its cost
-- pro rata (a session across midnight charges each day its share). Where a session ends:
--   * ended_at when it has ended;
--   * still open with a lease: now, but never past the lease's expiry (a crashed instance's session
--     stops counting when its lease lapses);
--   * still open without a lease (the relay does not lease, or the lease was reclaimed before the row
--     was written): now, but at most 60 minutes after its start, OpenAI's limit for a Realtime session,
--     so a row nobody will ever close cannot eat a user's quota forever.
-- An open session's cost is what the relay last reported (relay_renew_session_lease's p_cost_usd), 0
-- until it reports. Sessions started more than a day before p_since are not looked at.
create or replace function public.relay_user_usage_since(p_user_id uuid, p_since timestamptz) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.now();
  v_seconds numeric;
  v_cost numeric;
  v_limits jsonb;
begin
  if p_since is null then
    raise exception 'relay_user_usage_since: since is required' using errcode = '22023';
  end if;

  with spans as (
    select v.cost_usd,
           v.started_at,
           case
             when v.ended_at is not null then v.ended_at
             when l.session_id is not null then least(v_now, l.expires_at)
             else least(v_now, v.started_at + interval '60 minutes')
           end as ends_at
      from public.voice_sessions v
      left join public.session_leases l on l.session_id = v.id
     where v.user_id = p_user_id
       and v.started_at > p_since - interval '1 day'
  ),
  measured as (
    select cost_usd,
           greatest(extract(epoch from ends_at - started_at), 0) as total_seconds,
           greatest(extract(epoch from ends_at - greatest(started_at, p_since)), 0) as window_seconds
      from spans
     where ends_at >= p_since
  )
  select coalesce(sum(window_seconds), 0),
         coalesce(sum(case when total_seconds > 0 then cost_usd * window_seconds / total_seconds
                           else cost_usd end), 0)
    into v_seconds, v_cost
    from measured;

  select pg_catalog.jsonb_build_object('daily_seconds', u.daily_seconds, 'daily_usd', u.daily_usd)
    into v_limits
    from public.relay_user_limits u
   where u.user_id = p_user_id;

  return pg_catalog.jsonb_build_object(
    'seconds', round(v_seconds, 3),
    'cost_usd', round(v_cost, 6),
    'limits', coalesce(v_limits, '{"daily_seconds": null, "daily_usd": null}'::jsonb));
end
$$;

revoke execute on function public.relay_acquire_session_lease(uuid, uuid, text, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.relay_renew_session_lease(uuid, integer, numeric) from public, anon, authenticated;
revoke execute on function public.relay_release_session_lease(uuid) from public, anon, authenticated;
revoke execute on function public.relay_user_usage_since(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.relay_acquire_session_lease(uuid, uuid, text, integer, integer) to service_role;
grant execute on function public.relay_renew_session_lease(uuid, integer, numeric) to service_role;
grant execute on function public.relay_release_session_lease(uuid) to service_role;
grant execute on function public.relay_user_usage_since(uuid, timestamptz) to service_role;

-- PostgREST (Supabase's REST layer) picks up the new functions without a restart.
notify pgrst, 'reload schema';
