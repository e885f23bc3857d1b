/** The relay's version, reported by `/health` and in logs. */
export const RELAY_VERSION = "0.1.0";
