-- Relay storage, part 4: the OpenAI key (or another secret) from Supabase Vault.
-- Create it once with: select vault.create_secret('sk-...', 'openai_api_key');
-- Only the service role may call this function; it runs as its owner, who can read Vault.

create or replace function public.relay_get_secret(secret_name text) returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found text;
begin
  -- plpgsql resolves vault.decrypted_secrets at call time, so the migration also applies where Vault
  -- is not installed yet; the call then fails with an error naming the missing relation.
  select s.decrypted_secret into found
    from vault.decrypted_secrets s
   where s.name = secret_name
   order by s.created_at desc
   limit 1;
  return found;
end
$$;

revoke execute on function public.relay_get_secret(text) from public, anon, authenticated;
grant execute on function public.relay_get_secret(text) to service_role;

-- PostgREST (Supabase's REST layer) picks up the new function without a restart.
notify pgrst, 'reload schema';
