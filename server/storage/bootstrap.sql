-- Bootstrap for databases that are not Supabase (embedded PGlite, plain PostgreSQL).
--
-- The migrations in supabase/migrations/ lean on what every Supabase project has. This file provides
-- the minimum stand-ins so the same migrations apply elsewhere. It is NOT applied to Supabase (the
-- runner skips it when auth.users exists and is not this stand-in), and it is idempotent.
--
--   * roles anon, authenticated, service_role: NOLOGIN roles for grants and row-level security
--     (service_role bypasses RLS, as on Supabase). Nobody logs in as them; tests SET ROLE to them.
--     Creating them needs CREATEROLE (or a superuser) the first time.
--   * schema auth: auth.users (id, email, created_at, raw_user_meta_data only; no passwords, no
--     sessions: users are created by the relay with the id from their verified JWT) and auth.uid(),
--     auth.role(), auth.jwt() reading request.jwt.claims the way Supabase's do.
--   * schema vault: vault.secrets, the vault.decrypted_secrets view and vault.create_secret() /
--     vault.update_secret() with Supabase's signatures. Secrets are stored IN PLAIN TEXT: this is a
--     stand-in for the API, not for Vault's encryption. Protect the database (or data directory) itself.

do $$
begin
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
      create role anon nologin noinherit;
    end if;
  exception when duplicate_object then null; -- another database of the cluster made it meanwhile
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
      create role authenticated nologin noinherit;
    end if;
  exception when duplicate_object then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
      create role service_role nologin noinherit bypassrls;
    end if;
  exception when duplicate_object then null;
  end;
end
$$;

grant usage on schema public to anon, authenticated, service_role;

create schema if not exists auth;
-- The runner recognises a bootstrapped database by this comment (Supabase's auth schema has another).
comment on schema auth is 'relay bootstrap: stand-in for Supabase Auth (auth.users, auth.uid()); not Supabase';
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
  id uuid primary key,
  email text,
  raw_user_meta_data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create schema if not exists vault;
comment on schema vault is 'relay bootstrap: stand-in for Supabase Vault; secrets are stored in plain text';
revoke all on schema vault from public;

create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
revoke all on table vault.secrets from public;

create or replace view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, key_id, created_at, updated_at
    from vault.secrets;
revoke all on table vault.decrypted_secrets from public;

create or replace function vault.create_secret(
  new_secret text,
  new_name text default null,
  new_description text default '',
  new_key_id uuid default null
) returns uuid
language sql
as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  returning id
$$;

create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text default null,
  new_name text default null,
  new_description text default null,
  new_key_id uuid default null
) returns void
language sql
as $$
  update vault.secrets
     set secret = coalesce(new_secret, secret),
         name = coalesce(new_name, name),
         description = coalesce(new_description, description),
         key_id = coalesce(new_key_id, key_id),
         updated_at = now()
   where id = secret_id
$$;
revoke all on function vault.create_secret(text, text, text, uuid) from public;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public;
