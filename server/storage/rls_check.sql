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
insert into public.session_leases (session_id, user_id, instance_id, expires_at) values
  ('a0000000-0000-4000-8000-0000000a1ea5', 'a0000000-0000-4000-8000-00000000000a', 'rls', now() + interval '1 hour'),
  ('b0000000-0000-4000-8000-0000000b1ea5', 'b0000000-0000-4000-8000-00000000000b', 'rls', now() + interval '1 hour');
insert into public.relay_user_limits (user_id, daily_seconds, daily_usd) values
  ('a0000000-0000-4000-8000-00000000000a', 600, 1),
  ('b0000000-0000-4000-8000-00000000000b', 900, 2);

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

  select array_agg(session_id::text order by session_id) into seen from public.session_leases
   where session_id in ('a0000000-0000-4000-8000-0000000a1ea5', 'b0000000-0000-4000-8000-0000000b1ea5');
  if seen is distinct from array['a0000000-0000-4000-8000-0000000a1ea5'] then
    raise exception 'rls: user A sees session leases %, expected only A''s', seen;
  end if;

  select array_agg(daily_seconds::text order by daily_seconds) into seen from public.relay_user_limits
   where user_id in ('a0000000-0000-4000-8000-00000000000a', 'b0000000-0000-4000-8000-00000000000b');
  if seen is distinct from array['600'] then
    raise exception 'rls: user A sees limits %, expected only A''s', seen;
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
  -- Leases and limits are the relay's: a user can neither take a slot nor raise a quota.
  begin
    insert into public.session_leases (session_id, user_id, instance_id, expires_at)
    values (gen_random_uuid(), 'a0000000-0000-4000-8000-00000000000a', 'forged', now() + interval '1 hour');
    raise exception 'rls: user A inserted a session lease';
  exception when insufficient_privilege then null;
  end;
  begin
    delete from public.session_leases where session_id = 'a0000000-0000-4000-8000-0000000a1ea5';
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A deleted a session lease'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    update public.session_leases set expires_at = now() - interval '1 hour'
     where session_id in ('a0000000-0000-4000-8000-0000000a1ea5', 'b0000000-0000-4000-8000-0000000b1ea5');
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A updated a session lease'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    update public.relay_user_limits set daily_seconds = 86400
     where user_id = 'a0000000-0000-4000-8000-00000000000a';
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A raised their own limits'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    delete from public.relay_user_limits where user_id = 'a0000000-0000-4000-8000-00000000000a';
    get diagnostics changed = row_count;
    if changed > 0 then raise exception 'rls: user A deleted their own limits'; end if;
  exception when insufficient_privilege then null;
  end;
  begin
    perform public.relay_acquire_session_lease(gen_random_uuid(), 'a0000000-0000-4000-8000-00000000000a',
                                               'forged', 1000, 3600);
    raise exception 'rls: user A called relay_acquire_session_lease';
  exception when insufficient_privilege then null;
  end;
  begin
    perform public.relay_renew_session_lease('b0000000-0000-4000-8000-0000000b1ea5', 3600);
    raise exception 'rls: user A called relay_renew_session_lease';
  exception when insufficient_privilege then null;
  end;
  begin
    perform public.relay_release_session_lease('b0000000-0000-4000-8000-0000000b1ea5');
    raise exception 'rls: user A called relay_release_session_lease';
  exception when insufficient_privilege then null;
  end;
  begin
    perform public.relay_user_usage_since('b0000000-0000-4000-8000-00000000000b', now() - interval '1 day');
    raise exception 'rls: user A called relay_user_usage_since';
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
  begin
    select count(*) into n from public.session_leases; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  begin
    select count(*) into n from public.relay_user_limits; visible := visible + n;
  exception when insufficient_privilege then null;
  end;
  if visible <> 0 then
    raise exception 'rls: anon sees % rows', visible;
  end if;
  begin
    perform public.relay_acquire_session_lease(gen_random_uuid(), 'a0000000-0000-4000-8000-00000000000a',
                                               'forged', 1000, 3600);
    raise exception 'rls: anon called relay_acquire_session_lease';
  exception when insufficient_privilege then null;
  end;
  begin
    perform public.relay_user_usage_since('a0000000-0000-4000-8000-00000000000a', now() - interval '1 day');
    raise exception 'rls: anon called relay_user_usage_since';
  exception when insufficient_privilege then null;
  end;
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
  if (select count(*) from public.session_leases
       where user_id in ('a0000000-0000-4000-8000-00000000000a', 'b0000000-0000-4000-8000-00000000000b')
         and expires_at > now()) <> 2 then
    raise exception 'rls: session leases were changed by a user';
  end if;
  if (select daily_seconds from public.relay_user_limits where user_id = 'a0000000-0000-4000-8000-00000000000a')
     is distinct from 600 then
    raise exception 'rls: limits were changed by user A';
  end if;
end
$$;

-- Every privileged relay function (security definer: it bypasses row-level security) is for the
-- service role only; the calls above check the known ones, the catalog here any other.
do $$
declare
  exposed text;
begin
  select string_agg(format('%s to %s', p.oid::regprocedure, r.rolname), ', ') into exposed
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
   cross join (values ('anon'), ('authenticated')) as r (rolname)
   where n.nspname = 'public' and p.proname like 'relay\_%' and p.prosecdef
     and has_function_privilege(r.rolname, p.oid, 'execute');
  if exposed is not null then
    raise exception 'rls: security definer functions are executable: %', exposed;
  end if;
end
$$;
