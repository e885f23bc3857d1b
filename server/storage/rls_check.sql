-- Row-level security check for the relay's tables: another user cannot read them.
--
-- Run it inside a transaction that is rolled back (it inserts test rows), as a role that may SET ROLE
-- to authenticated and anon (a superuser; Supabase's `postgres` role):
--   (echo 'begin;'; cat server/storage/rls_check.sql; echo 'rollback;') | psql -v ON_ERROR_STOP=1 "$DATABASE_URL"
-- The store contract test runs it the same way on PGlite and PostgreSQL. Any failed expectation raises
-- an exception whose message starts with "rls:".
--
-- Roles are switched the way Supabase's API does it: SET ROLE authenticated, and the verified JWT's
-- claims in request.jwt.claims, which auth.uid() reads.

-- Two users, A and B, with one row of each kind; each has a private agent, B also a public one.
insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'rls-a@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'rls-b@example.test');
insert into public.agents (id, owner_id, name, is_public) values
  ('a0000000-0000-4000-8000-0000000a9e01', 'a0000000-0000-4000-8000-00000000000a', 'A private', false),
  ('b0000000-0000-4000-8000-0000000b9e01', 'b0000000-0000-4000-8000-00000000000b', 'B private', false),
  ('b0000000-0000-4000-8000-0000000b9e02', 'b0000000-0000-4000-8000-00000000000b', 'B public', true);
insert into public.conversations (id, user_id, title) values
  ('a0000000-0000-4000-8000-0000000ac001', 'a0000000-0000-4000-8000-00000000000a', 'A conversation'),
  ('b0000000-0000-4000-8000-0000000bc001', 'b0000000-0000-4000-8000-00000000000b', 'B conversation');
insert into public.chat_messages_v2 (conversation_id, user_id, role, content, item_id) values
  ('a0000000-0000-4000-8000-0000000ac001', 'a0000000-0000-4000-8000-00000000000a', 'user', 'A says', 'item_rls_a'),
  ('b0000000-0000-4000-8000-0000000bc001', 'b0000000-0000-4000-8000-00000000000b', 'user', 'B says', 'item_rls_b');
insert into public.voice_sessions (id, user_id, conversation_id, runtime, instance_id, model) values
  ('a0000000-0000-4000-8000-0000000a5e55', 'a0000000-0000-4000-8000-00000000000a',
   'a0000000-0000-4000-8000-0000000ac001', 'deno', 'rls', 'gpt-realtime'),
  ('b0000000-0000-4000-8000-0000000b5e55', 'b0000000-0000-4000-8000-00000000000b',
   'b0000000-0000-4000-8000-0000000bc001', 'deno', 'rls', 'gpt-realtime');

-- As user A.
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-00000000000a","role":"authenticated","aud":"authenticated"}', true);

do $$
declare
  seen text[];
begin
  if auth.uid() is distinct from 'a0000000-0000-4000-8000-00000000000a'::uuid then
    raise exception 'rls: auth.uid() is %, expected user A', auth.uid();
  end if;

  select array_agg(title order by title) into seen from public.conversations
   where id in ('a0000000-0000-4000-8000-0000000ac001', 'b0000000-0000-4000-8000-0000000bc001');
  if seen is distinct from array['A conversation'] then
    raise exception 'rls: user A sees conversations %, expected only A''s', seen;
  end if;

  select array_agg(content order by content) into seen from public.chat_messages_v2
   where item_id in ('item_rls_a', 'item_rls_b');
  if seen is distinct from array['A says'] then
    raise exception 'rls: user A sees messages %, expected only A''s', seen;
  end if;

  select array_agg(id::text order by id) into seen from public.voice_sessions
   where id in ('a0000000-0000-4000-8000-0000000a5e55', 'b0000000-0000-4000-8000-0000000b5e55');
  if seen is distinct from array['a0000000-0000-4000-8000-0000000a5e55'] then
    raise exception 'rls: user A sees voice sessions %, expected only A''s', seen;
  end if;

  select array_agg(name order by name) into seen from public.agents
   where owner_id in ('a0000000-0000-4000-8000-00000000000a', 'b0000000-0000-4000-8000-00000000000b');
  if seen is distinct from array['A private', 'B public'] then
    raise exception 'rls: user A sees agents %, expected A private and B public', seen;
  end if;
end
$$;

-- User A cannot write: no insert/update/delete policy (permission denied, or RLS filters every row).
do $$
declare
  changed integer;
begin
  begin
    insert into public.chat_messages_v2 (conversation_id, user_id, role, content)
    values ('a0000000-0000-4000-8000-0000000ac001', 'a0000000-0000-4000-8000-00000000000a', 'assistant', 'forged');
    raise exception 'rls: user A inserted a message';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into public.conversations (user_id, title) values ('a0000000-0000-4000-8000-00000000000a', 'forged');
    raise exception 'rls: user A inserted a conversation';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into public.voice_sessions (id, user_id, runtime, instance_id, model)
    values (gen_random_uuid(), 'a0000000-0000-4000-8000-00000000000a', 'deno', 'forged', 'm');
    raise exception 'rls: user A inserted a voice session';
  exception when insufficient_privilege then null;
  end;
  begin
    insert into public.agents (owner_id, name) values ('a0000000-0000-4000-8000-00000000000a', 'forged');
    raise exception 'rls: user A inserted an agent';
  exception when insufficient_privilege then null;
  end;
  begin
    update public.agents set instructions = 'forged' where id = 'a0000000-0000-4000-8000-0000000a9e01';
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A updated an agent'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    update public.voice_sessions set cost_usd = 0 where id = 'a0000000-0000-4000-8000-0000000a5e55';
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A updated a voice session'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    delete from public.chat_messages_v2 where item_id in ('item_rls_a', 'item_rls_b');
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A deleted messages'; end if;
  exception when insufficient_privilege then null;
  end;
  -- Secrets are for the service role only.
  begin
    perform public.relay_get_secret('openai_api_key');
    raise exception 'rls: user A called relay_get_secret';
  exception when insufficient_privilege then null;
  end;
  begin
    perform 1 from vault.decrypted_secrets;
    raise exception 'rls: user A read vault.decrypted_secrets';
  exception when insufficient_privilege then null;
  end;
end
$$;

-- As an anonymous caller: nothing at all (not even public agents).
reset role;
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);

do $$
declare
  visible bigint := 0;
  n bigint;
begin
  begin
    select count(*) into n from public.conversations; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  begin
    select count(*) into n from public.chat_messages_v2; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  begin
    select count(*) into n from public.voice_sessions; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  begin
    select count(*) into n from public.agents; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  if visible <> 0 then
    raise exception 'rls: anon sees % rows', visible;
  end if;
end
$$;

reset role;

-- The writes above changed nothing.
do $$
begin
  if exists (select 1 from public.agents where instructions = 'forged') then
    raise exception 'rls: an agent was changed by user A';
  end if;
  if (select count(*) from public.chat_messages_v2 where item_id in ('item_rls_a', 'item_rls_b')) <> 2 then
    raise exception 'rls: messages were deleted by user A';
  end if;
end
$$;
