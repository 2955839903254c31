// @ts-check
/**
 * Sign-in: member id + password. Shows the precise reason a sign-in failed and,
 * when rate-limited, how long to wait (the button stays disabled until then).
 * @module login
 */
import { api, ApiError } from "./protocol.js";
import { tx, t } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage, formatWait } from "./errors.js";
import { mountCodeStep } from "./security.js";

const MEMBER_ID = /^[A-Z0-9][A-Z0-9-]{1,31}$/;

/** @type {import("./app.js").View} */
export function mountLogin(root, ctx) {
  ctx.setTitle("login.title");
  const expired = location.hash.includes("expired=1");
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let countdown;

  const memberId = /** @type {HTMLInputElement} */ (h("input", {
    id: "login-member-id", name: "member_id", autocomplete: "username", required: true,
    autocapitalize: "characters", spellcheck: "false", maxlength: 32,
    "aria-describedby": "login-member-id-hint",
  }));
  const password = /** @type {HTMLInputElement} */ (h("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true,
  }));
  const showPassword = /** @type {HTMLInputElement} */ (h("input", {
    type: "checkbox", id: "login-show-password",
    onchange: () => { password.type = showPassword.checked ? "text" : "password"; },
  }));
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary btn-block" }, tx("login.submit")));
  const message = h("div", { class: "form-message", role: "alert", "aria-live": "assertive" });

  /**
   * @param {string} text
   * @param {"error" | "info"} [kind]
   */
  function say(text, kind = "error") {
    message.className = `form-message ${text ? kind : ""}`;
    message.textContent = text;
  }

  /** @param {number} seconds */
  function lockFor(seconds) {
    let left = Math.ceil(seconds);
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(countdown);
        submit.disabled = false;
        say(t("login.try_again_now"), "info");
        return;
      }
      say(t("error.rate_limited", { wait: formatWait(left) }));
      left -= 1;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  /** @param {SubmitEvent} event */
  async function onSubmit(event) {
    event.preventDefault();
    const id = memberId.value.trim().toUpperCase();
    memberId.value = id;
    memberId.removeAttribute("aria-invalid");
    if (!id || !password.value) {
      say(t("login.error.missing"));
      (!id ? memberId : password).focus();
      return;
    }
    if (!MEMBER_ID.test(id)) {
      memberId.setAttribute("aria-invalid", "true");
      say(t("login.error.bad_member_id"));
      memberId.focus();
      return;
    }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    say("");
    try {
      const result = await api.login(id, password.value);
      password.value = "";
      if (result.second_factor) {
        // security: the password was right; now a code from the authenticator app
        submit.removeAttribute("aria-busy");
        submit.disabled = false;
        mountCodeStep(step, result.second_factor.challenge, ctx.signedIn, () => {
          replaceChildren(step, form);
          say(t("security.sign_in_again"), "info");
          password.focus();
        }, result.second_factor.methods);
        return;
      }
      await ctx.signedIn(/** @type {import("./protocol.js").Me} */ (result.member));
    } catch (err) {
      submit.removeAttribute("aria-busy");
      submit.disabled = false;
      if (err instanceof ApiError && err.code === "rate_limited") {
        lockFor(err.retryAfter ?? 60);
      } else {
        say(errorMessage(err, "login"));
        password.select();
        password.focus();
      }
    }
  }

  const form = h("form", { novalidate: true, onsubmit: onSubmit },
    h("div", { class: "field" },
      h("label", { for: "login-member-id" }, tx("login.member_id")),
      memberId,
      h("p", { class: "hint", id: "login-member-id-hint" }, tx("login.member_id_hint")),
    ),
    h("div", { class: "field" },
      h("label", { for: "login-password" }, tx("login.password")),
      password,
      h("label", { class: "check", for: "login-show-password" }, showPassword, tx("login.show_password")),
    ),
    message,
    submit,
  );
  const step = h("div", { class: "login-step" }, form); // the password, then (maybe) the code

  root.append(
    h("section", { class: "panel narrow auth" },
      h("h1", {}, tx("login.title")),
      h("p", { class: "lede" }, tx("login.lede")),
      expired ? h("p", { class: "form-message info" }, tx("login.expired")) : null,
      step,
      h("p", { class: "hint" }, tx("login.first_time")),
    ),
  );
  memberId.focus();
  return () => clearInterval(countdown);
}
