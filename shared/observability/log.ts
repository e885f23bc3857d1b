/**
 * Structured JSON logs: one line per event, never a credential or audio.
 *
 * Callers pass fields, not strings; every string value is scrubbed of registered secrets and of
 * anything shaped like a JWT before it is written, so a token that slips into an error message
 * (an upstream reason, a thrown error) still never reaches the log.
 *
 * @module
 */

/** Log severities, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field values a log line may carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

/** Writes structured log lines. */
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel;
  /** Literal secrets (API keys, JWT secrets) to redact wherever they appear. */
  secrets: string[];
  /** Where a finished line goes; default `console.log`. */
  write?: (line: string) => void;
  /** Fields added to every line (runtime, instance). */
  base?: LogFields;
  now?: () => number;
}

// Three base64url segments starting with a JSON header ("eyJ"): the shape of every JWT.
const jwtPattern = /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
// OpenAI keys (sk-..., sk-proj-...) and Supabase keys (sb_secret_..., sb_publishable_...).
const apiKeyPattern = /\b(sk-[A-Za-z0-9_-]{8,}|sb_(secret|publishable)_[A-Za-z0-9_-]{8,})/g;
// Long base64 runs are audio (or another blob): never logged.
const blobPattern = /[A-Za-z0-9+/]{200,}={0,2}/g;

/** Removes secrets, token-shaped strings and base64 blobs from one string. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("[redacted]");
  }
  return out.replace(jwtPattern, "[jwt]").replace(apiKeyPattern, "[key]").replace(blobPattern, "[blob]");
}

/** Builds a {@link Logger} writing one JSON object per line. */
export function createLogger(options: LoggerOptions): Logger {
  const minRank = levelRank[options.level];
  const write = options.write ?? ((line: string) => console.log(line));
  const now = options.now ?? Date.now;
  const secrets = options.secrets.filter((s) => s.length >= 8);
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (levelRank[level] < minRank) return;
    const record: Record<string, unknown> = {
      ts: new Date(now()).toISOString(),
      level,
      event,
      ...options.base,
    };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        if (typeof value === "string") record[key] = scrub(value, secrets);
        else if (Array.isArray(value)) record[key] = value.map((v) => scrub(v, secrets));
        else record[key] = value;
      }
    }
    write(JSON.stringify(record));
  };
  return {
    debug: (event, fields) => emit("debug", event, fields),
    info: (event, fields) => emit("info", event, fields),
    warn: (event, fields) => emit("warn", event, fields),
    error: (event, fields) => emit("error", event, fields),
  };
}
