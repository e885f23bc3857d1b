-- Relay storage, part 3: voice_sessions, one row per relay session with usage and cost.

create table if not exists public.voice_sessions (
  -- The relay's session id.
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  agent_id uuid references public.agents (id) on delete set null,
  conversation_id uuid references public.conversations (id) on delete set null,
  -- deno | node | supabase-edge
  runtime text not null,
  instance_id text not null,
  model text not null,
  voice text,
  started_at timestamptz not null default now(),
  ended_at timestamptz,
  close_code integer,
  close_reason text,
  input_text_tokens integer not null default 0,
  input_audio_tokens integer not null default 0,
  -- Cached tokens are a subset of the input tokens above (billed at the cached rate).
  input_cached_text_tokens integer not null default 0,
  input_cached_audio_tokens integer not null default 0,
  output_text_tokens integer not null default 0,
  output_audio_tokens integer not null default 0,
  total_tokens integer not null default 0,
  cost_usd numeric(14, 6) not null default 0
);

create index if not exists voice_sessions_user_id_started_at_idx on public.voice_sessions (user_id, started_at desc);
create index if not exists voice_sessions_conversation_id_idx on public.voice_sessions (conversation_id);
create index if not exists voice_sessions_agent_id_idx on public.voice_sessions (agent_id);

alter table public.voice_sessions enable row level security;
drop policy if exists "relay: read own voice sessions" on public.voice_sessions;
create policy "relay: read own voice sessions" on public.voice_sessions
  for select to authenticated
  using (user_id = (select auth.uid()));

grant select on table public.voice_sessions to authenticated;
grant select, insert, update, delete on table public.voice_sessions to service_role;
