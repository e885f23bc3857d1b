import { relayContract } from "./testing/relay_contract.ts";

relayContract("deno");
