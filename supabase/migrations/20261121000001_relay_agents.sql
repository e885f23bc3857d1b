-- Relay storage, part 1: agents (the server-owned voice session configuration).
-- Additive and re-runnable: safe on a project that already has some of these objects.
-- On a database that is not Supabase, server/storage/bootstrap.sql provides auth.users, auth.uid()
-- and the anon/authenticated/service_role roles first.

-- Keeps updated_at current on every update that does not set it itself (conversations and agents).
create or replace function public.relay_touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.updated_at is not distinct from old.updated_at then
    new.updated_at := now();
  end if;
  return new;
end
$$;

create table if not exists public.agents (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  name text not null,
  instructions text not null default '',
  voice text,
  model text,
  turn_detection jsonb,
  transcription_model text,
  tools jsonb not null default '[]'::jsonb,
  is_public boolean not null default false,
  client_overrides jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- An existing agents table gains what the relay reads.
alter table public.agents add column if not exists owner_id uuid references auth.users (id) on delete cascade;
alter table public.agents add column if not exists name text;
alter table public.agents add column if not exists instructions text not null default '';
alter table public.agents add column if not exists voice text;
alter table public.agents add column if not exists model text;
alter table public.agents add column if not exists turn_detection jsonb;
alter table public.agents add column if not exists transcription_model text;
alter table public.agents add column if not exists tools jsonb not null default '[]'::jsonb;
alter table public.agents add column if not exists is_public boolean not null default false;
alter table public.agents add column if not exists client_overrides jsonb not null default '{}'::jsonb;
alter table public.agents add column if not exists created_at timestamptz not null default now();
alter table public.agents add column if not exists updated_at timestamptz not null default now();

create index if not exists agents_owner_id_idx on public.agents (owner_id);

drop trigger if exists relay_agents_touch_updated_at on public.agents;
create trigger relay_agents_touch_updated_at
  before update on public.agents
  for each row execute function public.relay_touch_updated_at();

-- Users read their own agents and public ones. No write policy: agents are managed with the service
-- role (dashboard, admin tools), so a client cannot rewrite an agent's instructions or tools.
alter table public.agents enable row level security;
drop policy if exists "relay: read own or public agents" on public.agents;
create policy "relay: read own or public agents" on public.agents
  for select to authenticated
  using (owner_id = (select auth.uid()) or is_public);

grant select on table public.agents to authenticated;
grant select, insert, update, delete on table public.agents to service_role;
