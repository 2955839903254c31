// @ts-check
/**
 * Turn an error from the server (or the network) into a sentence for the user.
 * @module errors
 */
import { ApiError } from "./protocol.js";
import { t } from "./i18n.js";

/**
 * Human-readable duration for a `retry_after` in seconds.
 * @param {number} seconds
 */
export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return t("time.seconds", { count: s });
  return t("time.minutes", { count: Math.ceil(s / 60) });
}

/**
 * @param {unknown} err
 * @param {string} [scope] a catalog prefix for messages specific to one screen,
 *   e.g. `"login"` looks up `login.error.not_authenticated` before `error.not_authenticated`
 * @returns {string}
 */
export function errorMessage(err, scope) {
  if (!(err instanceof ApiError)) return t("error.internal");
  const vars = { wait: err.retryAfter ? formatWait(err.retryAfter) : t("time.a_moment") };
  if (err.code === "invalid_input" && err.details.field) {
    return t("error.invalid_field", { field: String(err.details.field), message: err.message });
  }
  for (const key of [scope && `${scope}.error.${err.code}`, `error.${err.code}`]) {
    if (key && t(key, vars) !== key) return t(key, vars);
  }
  return err.message || t("error.internal");
}
