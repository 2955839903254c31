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
 *   e.g. `"login"` looks up `login.error.not_authenticated` before `error.not_authenticated`;
 *   a dotted one falls back along its parts (`org.site.error.X`, then `org.error.X`)
 * @returns {string}
 */
export function errorMessage(err, scope) {
  if (!(err instanceof ApiError)) return t("error.internal");
  const vars = { wait: err.retryAfter ? formatWait(err.retryAfter) : t("time.a_moment") };
  if (err.code === "invalid_input" && err.details.field) {
    return t("error.invalid_field", { field: String(err.details.field), message: err.message });
  }
  /** @type {string[]} */
  const keys = [];
  for (let s = scope ?? ""; s; s = s.includes(".") ? s.slice(0, s.lastIndexOf(".")) : "") keys.push(`${s}.error.${err.code}`);
  for (const key of [...keys, `error.${err.code}`]) {
    if (t(key, vars) !== key) return t(key, vars);
  }
  return err.message || t("error.internal");
}

/**
 * Run an action a button started: the button is disabled while it runs, the message
 * element is cleared, and a failure is shown there in words (the button comes back).
 * @param {() => Promise<unknown>} action
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} message
 * @param {string} scope  the error-message scope, as for errorMessage
 * @returns {Promise<boolean>} whether the action succeeded
 */
export async function runAction(action, button, message, scope) {
  button.disabled = true;
  message.className = "form-message";
  message.textContent = "";
  try {
    await action();
    return true;
  } catch (err) {
    button.disabled = false;
    message.className = "form-message error";
    message.textContent = errorMessage(err, scope);
    return false;
  }
}
