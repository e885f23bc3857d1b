/**
 * The relay's configuration: one zod-validated object built from the environment at start-up.
 * A bad value stops the process with one line naming the variable ({@link ConfigError}).
 *
 * @module
 */
import { z } from "zod";
import { REALTIME_VOICES } from "./protocol/voices.ts";
import type { SessionDefaults } from "./relay/agent_session.ts";
import { DEFAULT_REALTIME_PRICES, type RealtimePrices, realtimePricesSchema } from "./storage/usage.ts";

/** Thrown by {@link loadConfig}; `message` is the single line to print before exiting. */
export class ConfigError extends Error {
  constructor(readonly variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const optionalText = z.string().trim().min(1).optional();
const commaList = (fallback: string[]) =>
  z.string().optional().transform((value) =>
    value === undefined || value.trim() === ""
      ? fallback
      : value.split(",").map((s) => s.trim()).filter(Boolean)
  );
const wsUrl = z.string().url().refine((u) => /^wss?:\/\//.test(u), "must start with ws:// or wss://");
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), "must start with http:// or https://")
  .transform((u) => u.replace(/\/+$/, ""));

/** Environment variables the relay reads, with their defaults. README's configuration table mirrors it. */
export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default("0.0.0.0"),
  OPENAI_API_KEY: optionalText,
  OPENAI_REALTIME_URL: wsUrl.default("wss://api.openai.com/v1/realtime"),
  OPENAI_REALTIME_MODEL: z.string().min(1).default("gpt-realtime"),
  ALLOWED_MODELS: commaList([]),
  SUPABASE_URL: httpUrl.optional(),
  SUPABASE_JWT_SECRET: z.string().trim().min(32, "must be at least 32 characters (an HS256 key of 256 bits)")
    .optional(),
  SUPABASE_ANON_KEY: optionalText,
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
  JWT_ISSUER: optionalText,
  MAX_CONNECTIONS: positiveInt(1000),
  RELAY_DATA_DIR: z.string().min(1).default(".data"),
  RELAY_INSTANCE_ID: optionalText,
  UPSTREAM_QUEUE_MAX_MESSAGES: positiveInt(2000),
  UPSTREAM_QUEUE_MAX_BYTES: positiveInt(16 * 1024 * 1024),
  UPSTREAM_DIAL_TIMEOUT_SECONDS: positiveInt(15),
  CLIENT_BUFFER_SOFT_LIMIT_BYTES: positiveInt(1024 * 1024),
  CLIENT_BUFFER_HARD_LIMIT_BYTES: positiveInt(8 * 1024 * 1024),
  KEEPALIVE_INTERVAL_SECONDS: nonNegativeInt(15),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  RELAY_STORAGE: z.enum(["auto", "pglite", "postgres", "supabase", "none"]).default("auto"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  STORAGE_MAX_PENDING_WRITES: positiveInt(10_000),
  OPENAI_API_KEY_SECRET_NAME: z.string().min(1).default("openai_api_key"),
  DEFAULT_VOICE: z.enum(REALTIME_VOICES).default("alloy"),
  DEFAULT_INSTRUCTIONS: z.string().min(1).default("You are a helpful, concise voice assistant."),
  DEFAULT_TRANSCRIPTION_MODEL: z.string().min(1).default("gpt-4o-mini-transcribe"),
  MAX_CLIENT_MESSAGE_BYTES: positiveInt(2 * 1024 * 1024),
  MAX_CLIENT_EVENTS_PER_SECOND: positiveInt(200),
  MAX_AUDIO_RATE: z.coerce.number().positive().default(2),
  MAX_SESSION_SECONDS: nonNegativeInt(0),
  SESSION_WARNING_SECONDS: positiveInt(15),
  EDGE_WALL_CLOCK_SECONDS: positiveInt(150),
  DRAIN_SECONDS: nonNegativeInt(30),
  RESUME_TOKEN_BUDGET: nonNegativeInt(4000),
  RESUME_MAX_MESSAGES: positiveInt(100),
  MAX_SESSIONS_PER_USER: positiveInt(5),
  SESSION_LEASE_SECONDS: positiveInt(60),
  DAILY_SECONDS_PER_USER: nonNegativeInt(0),
  DAILY_USD_PER_USER: z.coerce.number().nonnegative().default(0),
  ALLOWED_ORIGINS: commaList([]),
  CONNECT_ATTEMPTS_PER_MINUTE_PER_USER: positiveInt(30),
  CONNECT_ATTEMPTS_PER_MINUTE_PER_IP: positiveInt(120),
  REALTIME_PRICES: z.string().optional().transform((text, ctx) => {
    if (text === undefined) return DEFAULT_REALTIME_PRICES;
    try {
      const parsed = realtimePricesSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: "custom", message: `is not a price table: ${parsed.error.issues[0].message}` });
    } catch {
      ctx.addIssue({ code: "custom", message: "is not valid JSON" });
    }
    return z.NEVER;
  }),
});

/** The validated configuration every module receives. */
export interface RelayConfig {
  port: number;
  host: string;
  openai: {
    /** Undefined until the entry resolves it (env, Vault, or the local simulator). */
    apiKey: string | undefined;
    realtimeUrl: string;
    defaultModel: string;
    /** Models a client may pick with `?model=`; always includes the default. */
    allowedModels: string[];
  };
  auth: {
    supabaseUrl: string | undefined;
    jwtSecret: string | undefined;
    anonKey: string | undefined;
    /** Expected `iss`; derived from SUPABASE_URL unless JWT_ISSUER overrides it. */
    issuer: string | undefined;
  };
  supabaseServiceRoleKey: string | undefined;
  maxConnections: number;
  dataDir: string;
  instanceId: string;
  limits: {
    upstreamQueueMaxMessages: number;
    upstreamQueueMaxBytes: number;
    upstreamDialTimeoutMs: number;
    clientBufferSoftLimitBytes: number;
    clientBufferHardLimitBytes: number;
    /** 0 disables relay-driven pings. */
    keepaliveIntervalMs: number;
  };
  logLevel: "debug" | "info" | "warn" | "error";
  storage: {
    /** `auto`: DATABASE_URL, else supabase-js when SUPABASE_URL and the service-role key are set, else PGlite. */
    kind: "auto" | "pglite" | "postgres" | "supabase" | "none";
    databaseUrl: string | undefined;
    maxPendingWrites: number;
    /** The Vault secret holding the OpenAI key, used when OPENAI_API_KEY is unset. */
    openaiKeySecretName: string;
  };
  sessionDefaults: SessionDefaults;
  guard: {
    maxMessageBytes: number;
    maxEventsPerSecond: number;
    /** Audio seconds per wall-clock second a client may append. */
    maxAudioRate: number;
    /** 0: the runtime's default (below the edge wall clock on Supabase, below OpenAI's 60 minutes elsewhere). */
    maxSessionSeconds: number;
    sessionWarningSeconds: number;
    /** The edge platform's wall clock per invocation (150 s free, 400 s paid). */
    edgeWallClockSeconds: number;
    /** How long a SIGTERM'd server waits for sessions to move elsewhere before closing them (1012). */
    drainSeconds: number;
    /** Tokens (about 4 characters each) of earlier turns seeded into a resumed session. */
    resumeTokenBudget: number;
    resumeMaxMessages: number;
    maxSessionsPerUser: number;
    sessionLeaseSeconds: number;
    /** 0: no daily limit (a user's own row in relay_user_limits still applies). */
    dailySecondsPerUser: number;
    dailyUsdPerUser: number;
    allowedOrigins: string[];
    connectAttemptsPerMinutePerUser: number;
    connectAttemptsPerMinutePerIp: number;
  };
  /** USD per 1M tokens; defaults to the published gpt-realtime prices. */
  prices: RealtimePrices;
}

/** Builds the configuration from an environment map, or throws a {@link ConfigError} naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): RelayConfig {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") cleaned[key] = value;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue.path[0] ?? "environment");
    const got = cleaned[variable];
    throw new ConfigError(
      variable,
      `${issue.message}${got === undefined ? "" : ` (got ${JSON.stringify(redactIfSecret(variable, got))})`}`,
    );
  }
  const e = parsed.data;
  if (e.CLIENT_BUFFER_HARD_LIMIT_BYTES < e.CLIENT_BUFFER_SOFT_LIMIT_BYTES) {
    throw new ConfigError(
      "CLIENT_BUFFER_HARD_LIMIT_BYTES",
      "must not be below CLIENT_BUFFER_SOFT_LIMIT_BYTES",
    );
  }
  const allowedModels = [...new Set([e.OPENAI_REALTIME_MODEL, ...e.ALLOWED_MODELS])];
  return {
    port: e.PORT,
    host: e.HOST,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      realtimeUrl: e.OPENAI_REALTIME_URL,
      defaultModel: e.OPENAI_REALTIME_MODEL,
      allowedModels,
    },
    auth: {
      supabaseUrl: e.SUPABASE_URL,
      jwtSecret: e.SUPABASE_JWT_SECRET,
      anonKey: e.SUPABASE_ANON_KEY,
      issuer: e.JWT_ISSUER ?? (e.SUPABASE_URL ? `${e.SUPABASE_URL}/auth/v1` : undefined),
    },
    supabaseServiceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
    maxConnections: e.MAX_CONNECTIONS,
    dataDir: e.RELAY_DATA_DIR,
    instanceId: e.RELAY_INSTANCE_ID ?? `relay-${crypto.randomUUID().slice(0, 8)}`,
    limits: {
      upstreamQueueMaxMessages: e.UPSTREAM_QUEUE_MAX_MESSAGES,
      upstreamQueueMaxBytes: e.UPSTREAM_QUEUE_MAX_BYTES,
      upstreamDialTimeoutMs: e.UPSTREAM_DIAL_TIMEOUT_SECONDS * 1000,
      clientBufferSoftLimitBytes: e.CLIENT_BUFFER_SOFT_LIMIT_BYTES,
      clientBufferHardLimitBytes: e.CLIENT_BUFFER_HARD_LIMIT_BYTES,
      keepaliveIntervalMs: e.KEEPALIVE_INTERVAL_SECONDS * 1000,
    },
    logLevel: e.LOG_LEVEL,
    storage: {
      kind: e.RELAY_STORAGE,
      databaseUrl: e.DATABASE_URL,
      maxPendingWrites: e.STORAGE_MAX_PENDING_WRITES,
      openaiKeySecretName: e.OPENAI_API_KEY_SECRET_NAME,
    },
    sessionDefaults: {
      instructions: e.DEFAULT_INSTRUCTIONS,
      voice: e.DEFAULT_VOICE,
      transcriptionModel: e.DEFAULT_TRANSCRIPTION_MODEL,
    },
    prices: e.REALTIME_PRICES,
    guard: {
      maxMessageBytes: e.MAX_CLIENT_MESSAGE_BYTES,
      maxEventsPerSecond: e.MAX_CLIENT_EVENTS_PER_SECOND,
      maxAudioRate: e.MAX_AUDIO_RATE,
      maxSessionSeconds: e.MAX_SESSION_SECONDS,
      sessionWarningSeconds: e.SESSION_WARNING_SECONDS,
      edgeWallClockSeconds: e.EDGE_WALL_CLOCK_SECONDS,
      drainSeconds: e.DRAIN_SECONDS,
      resumeTokenBudget: e.RESUME_TOKEN_BUDGET,
      resumeMaxMessages: e.RESUME_MAX_MESSAGES,
      maxSessionsPerUser: e.MAX_SESSIONS_PER_USER,
      sessionLeaseSeconds: e.SESSION_LEASE_SECONDS,
      dailySecondsPerUser: e.DAILY_SECONDS_PER_USER,
      dailyUsdPerUser: e.DAILY_USD_PER_USER,
      allowedOrigins: e.ALLOWED_ORIGINS.map((o) => o.replace(/\/+$/, "")),
      connectAttemptsPerMinutePerUser: e.CONNECT_ATTEMPTS_PER_MINUTE_PER_USER,
      connectAttemptsPerMinutePerIp: e.CONNECT_ATTEMPTS_PER_MINUTE_PER_IP,
    },
  };
}

/** Secrets never appear in error messages, even when malformed. */
function redactIfSecret(variable: string, value: string): string {
  return /KEY|SECRET|TOKEN|DATABASE_URL/.test(variable) ? "[redacted]" : value;
}

/** Variables whose values are secrets; the logger redacts their values wherever they appear. */
export function secretValues(config: RelayConfig): string[] {
  const databasePassword = config.storage.databaseUrl ? safePassword(config.storage.databaseUrl) : undefined;
  return [
    config.openai.apiKey,
    config.auth.jwtSecret,
    config.auth.anonKey,
    config.supabaseServiceRoleKey,
    databasePassword,
  ]
    .filter((v): v is string => typeof v === "string" && v.length >= 8);
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
