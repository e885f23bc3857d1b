/**
 * Test support: what a droplet runs, on loopback. Two Deno relay processes sharing one throwaway
 * PostgreSQL and the in-process OpenAI simulator, behind the shipped nginx site with TLS. Instances
 * can be killed, SIGTERM'd and started again on the same port (nginx's upstream is static).
 *
 * @module
 */
import { signHs256Jwt } from "../../../shared/auth/jwt.ts";
import { supabaseUserClaims } from "../../../shared/auth/test_keys.ts";
import {
  createRealtimeSimulator,
  type RealtimeSimulator,
  type ScriptedTurn,
} from "../../../shared/simulator/realtime_simulator.ts";
import { createDenoAdapter } from "../../deno_adapter.ts";
import { type DatabaseFixture, seedUser, startDatabaseFixture } from "../../testing/database_fixture.ts";
import { type RelayProcess, startRelayProcess } from "../../testing/relay_process.ts";
import { freePort, type NginxProcess, prepareNginx, startNginx } from "./nginx_process.ts";

const jwtSecret = "relay-cluster-test-secret-0123456789-abcdefgh";
const openaiKey = "sk-relay-cluster-test-0123456789";

/** One relay instance slot: a fixed port and the process currently on it (if any). */
export interface InstanceSlot {
  /** `a` or `b`; a restarted instance is `a-2`, `a-3`… (its RELAY_INSTANCE_ID). */
  name: string;
  port: number;
  process: RelayProcess | undefined;
  starts: number;
}

/** A running cluster. */
export interface RelayCluster {
  database: DatabaseFixture;
  simulator: RealtimeSimulator;
  nginx: NginxProcess;
  instances: InstanceSlot[];
  /** The relay's current instance id on `slot` (what its `voice_sessions` rows carry). */
  instanceId(slot: InstanceSlot): string;
  /** Starts (again) the relay of `slot` on its port. */
  start(slot: InstanceSlot): Promise<RelayProcess>;
  /** Adds `userId` to `auth.users` and returns a valid access token for it. */
  userToken(userId: string): Promise<string>;
  close(): Promise<void>;
}

/** Options for {@link startRelayCluster}. */
export interface RelayClusterOptions {
  script?: ScriptedTurn[];
  /** Extra environment for every relay. */
  env?: Record<string, string>;
  /** Start only the first instance; the second upstream port stays closed (a dead instance). */
  onlyFirst?: boolean;
  /** Stream assistant audio in real time, so answers take as long as they sound; default false. */
  realtimePacing?: boolean;
}

/** Distinct transcripts, so a test can tell turns apart within one upstream connection. */
export function numberedScript(turns: number, assistantAudioMs = 300): ScriptedTurn[] {
  return Array.from({ length: turns }, (_, i) => ({
    userTranscript: `user says ${i + 1}`,
    assistantTranscript: `assistant answers ${i + 1}`,
    assistantAudioMs,
  }));
}

/** Starts the database, the simulator, the relays and nginx in front of them. */
export async function startRelayCluster(options: RelayClusterOptions = {}): Promise<RelayCluster> {
  const database = await startDatabaseFixture("postgres");
  const simulator = createRealtimeSimulator({
    adapter: createDenoAdapter({ idleTimeoutSeconds: 30 }),
    apiKeys: [openaiKey],
    script: options.script ?? numberedScript(20),
    realtimePacing: options.realtimePacing ?? false,
    maxRecordedConnections: 1000,
  });
  const simServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, simulator.app.fetch);
  const baseEnv: Record<string, string> = {
    OPENAI_API_KEY: openaiKey,
    OPENAI_REALTIME_URL: `ws://127.0.0.1:${simServer.addr.port}/v1/realtime`,
    SUPABASE_JWT_SECRET: jwtSecret,
    ...database.relayEnv,
    ...options.env,
  };
  const instances: InstanceSlot[] = [];
  const dataDirs: string[] = [];
  const instanceId = (slot: InstanceSlot) => slot.starts <= 1 ? slot.name : `${slot.name}-${slot.starts}`;
  const start = async (slot: InstanceSlot) => {
    slot.starts++;
    const dataDir = await Deno.makeTempDir({ prefix: `relay-${slot.name}-` });
    dataDirs.push(dataDir);
    slot.process = await startRelayProcess("deno", {
      ...baseEnv,
      PORT: String(slot.port),
      RELAY_INSTANCE_ID: instanceId(slot),
      RELAY_DATA_DIR: dataDir,
    });
    return slot.process;
  };
  let nginx: NginxProcess | undefined;
  try {
    // Each relay picks a free port the first time; nginx's upstream then names those ports.
    for (const name of ["a", "b"]) {
      const slot: InstanceSlot = { name, port: 0, process: undefined, starts: 0 };
      instances.push(slot);
      if (options.onlyFirst && name === "b") {
        slot.port = await freePort();
        continue;
      }
      const relay = await start(slot);
      slot.port = Number(new URL(relay.httpBase).port);
    }
    nginx = await startNginx(await prepareNginx(instances.map((slot) => slot.port)));
  } catch (error) {
    for (const slot of instances) await slot.process?.stop("SIGKILL").catch(() => 0);
    simulator.closeAll();
    await simServer.shutdown();
    await database.close();
    throw error;
  }
  return {
    database,
    simulator,
    nginx,
    instances,
    instanceId,
    start,
    async userToken(userId: string) {
      await seedUser(database.admin, userId);
      return await signHs256Jwt(supabaseUserClaims({ overrides: { sub: userId } }), jwtSecret);
    },
    async close() {
      for (const slot of instances) {
        if (slot.process) await slot.process.stop("SIGTERM").catch(() => 0);
        slot.process = undefined;
      }
      await nginx!.stop();
      simulator.closeAll();
      await simServer.shutdown();
      await database.close();
      for (const dir of dataDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
