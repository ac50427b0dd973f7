/** Structured winston logs that never carry a secret. */
import winston from "winston";

/** Keys whose values never reach a log line, whatever object they appear in. */
const SECRET_KEYS = /^(authorization|x-auth-token|password|api[_-]?key|key|keys|token|secret|cursor_secret)$/i;

const redact = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (SECRET_KEYS.test(k)) info[k] = "[redacted]";
  }
  return info;
});

export type Logger = winston.Logger;

export function createLogger(level = process.env.RATESTORE_LOG_LEVEL ?? "info"): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    defaultMeta: { service: "ratestore" },
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "http", "verbose", "debug", "silly"] })],
  });
}
