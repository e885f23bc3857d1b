-- Relay storage, part 2: conversations and chat_messages_v2, the tables the existing apps read.
-- Additive and re-runnable: an existing table keeps its columns, rows and policies and gains what the
-- relay writes.

create table if not exists public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  agent_id uuid references public.agents (id) on delete set null,
  title text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.conversations add column if not exists user_id uuid references auth.users (id) on delete cascade;
alter table public.conversations add column if not exists agent_id uuid references public.agents (id) on delete set null;
alter table public.conversations add column if not exists title text;
alter table public.conversations add column if not exists created_at timestamptz not null default now();
alter table public.conversations add column if not exists updated_at timestamptz not null default now();

create index if not exists conversations_user_id_updated_at_idx on public.conversations (user_id, updated_at desc);

drop trigger if exists relay_conversations_touch_updated_at on public.conversations;
create trigger relay_conversations_touch_updated_at
  before update on public.conversations
  for each row execute function public.relay_touch_updated_at();

create table if not exists public.chat_messages_v2 (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid references auth.users (id) on delete cascade,
  role text not null constraint chat_messages_v2_role_check check (role in ('user', 'assistant', 'system')),
  content text not null default '',
  metadata jsonb not null default '{}'::jsonb,
  -- The Realtime item id of a relay-written message (also in metadata.item_id, the seeds' shape).
  item_id text,
  created_at timestamptz not null default now()
);

alter table public.chat_messages_v2 add column if not exists conversation_id uuid references public.conversations (id) on delete cascade;
alter table public.chat_messages_v2 add column if not exists user_id uuid references auth.users (id) on delete cascade;
alter table public.chat_messages_v2 add column if not exists role text;
alter table public.chat_messages_v2 add column if not exists content text;
alter table public.chat_messages_v2 add column if not exists metadata jsonb not null default '{}'::jsonb;
alter table public.chat_messages_v2 add column if not exists item_id text;
alter table public.chat_messages_v2 add column if not exists created_at timestamptz not null default now();

-- Idempotency: a retried write of the same item inserts nothing. A dedicated column with a plain
-- (not partial, not expression) unique index, because PostgREST's `on_conflict` names columns only and
-- PostgreSQL infers a partial index only when the conflict target repeats its WHERE clause, which
-- PostgREST cannot send. NULLs are distinct, so messages without an item id (other writers) coexist.
create unique index if not exists chat_messages_v2_conversation_item_key
  on public.chat_messages_v2 (conversation_id, item_id);
create index if not exists chat_messages_v2_conversation_created_idx
  on public.chat_messages_v2 (conversation_id, created_at desc);
create index if not exists chat_messages_v2_user_id_idx on public.chat_messages_v2 (user_id);

-- A new message moves its conversation up in "recent conversations" lists.
create or replace function public.relay_touch_conversation() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.conversations
     set updated_at = greatest(updated_at, new.created_at)
   where id = new.conversation_id
     and updated_at < new.created_at;
  return null;
end
$$;

drop trigger if exists relay_chat_messages_v2_touch_conversation on public.chat_messages_v2;
create trigger relay_chat_messages_v2_touch_conversation
  after insert on public.chat_messages_v2
  for each row execute function public.relay_touch_conversation();

-- Users read their own rows. No insert/update/delete policy for `authenticated`: the relay writes with
-- the service role, which bypasses row-level security. (Policies an existing project already has for
-- its own writers are left as they are.)
alter table public.conversations enable row level security;
drop policy if exists "relay: read own conversations" on public.conversations;
create policy "relay: read own conversations" on public.conversations
  for select to authenticated
  using (user_id = (select auth.uid()));

alter table public.chat_messages_v2 enable row level security;
drop policy if exists "relay: read own messages" on public.chat_messages_v2;
create policy "relay: read own messages" on public.chat_messages_v2
  for select to authenticated
  using (user_id = (select auth.uid()));

grant select on table public.conversations, public.chat_messages_v2 to authenticated;
grant select, insert, update, delete on table public.conversations, public.chat_messages_v2 to service_role;
