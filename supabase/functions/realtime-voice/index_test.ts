import { relayContract } from "../../../server/testing/relay_contract.ts";

// The edge entry with its /realtime-voice prefix, on the current Deno and on Supabase's hosted 2.1.
relayContract("edge");
relayContract("edge-deno-2.1");
