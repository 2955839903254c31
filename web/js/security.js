// @ts-check
/**
 * Strict identity in the browser: the code step of signing in, the step-up dialog that
 * answers `step_up_required` in place (the action is then repeated), and the Security
 * page (authenticator app, recovery codes, sessions and devices).
 * @module security
 */
import { api, ApiError, setStepUpHandler } from "./protocol.js";
import { passkeysBlocked, securityApi } from "./security-api.js";
import { tx, t, formatTime } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";

/** @typedef {import("./security-api.js").Session} Session */
/** @typedef {import("./security-api.js").SecurityStatus} SecurityStatus */

/** @returns {HTMLInputElement} an input for a 6-digit code or a recovery code */
function codeInput(/** @type {string} */ id) {
  return /** @type {HTMLInputElement} */ (h("input", {
    id, name: "code", autocomplete: "one-time-code", inputmode: "text", spellcheck: "false",
    maxlength: 16, required: true, class: "code-input", "aria-describedby": `${id}-hint`,
  }));
}

/**
 * @param {HTMLElement} el
 * @param {string} text
 * @param {"error" | "info" | "success"} [kind]
 */
function say(el, text, kind = "error") {
  el.className = `form-message ${text ? kind : ""}`;
  el.textContent = text;
}

/**
 * The second step of signing in: a code from the authenticator app, or a recovery code.
 * @param {HTMLElement} root
 * @param {string} challenge
 * @param {(me: import("./protocol.js").Me) => Promise<void>} done
 * @param {() => void} restart back to the password step
 * @param {string[]} [methods] what the member has: "totp", "passkey", "recovery"
 */
export function mountCodeStep(root, challenge, done, restart, methods = ["totp", "recovery"]) {
  const code = codeInput("login-code");
  const message = h("div", { class: "form-message", role: "alert", "aria-live": "assertive" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary btn-block" }, tx("security.code_submit")));
  /** @param {SubmitEvent} event */
  async function onSubmit(event) {
    event.preventDefault();
    if (!code.value.trim()) return say(message, t("security.code_missing"));
    submit.disabled = true;
    say(message, "");
    try {
      await done(await api.loginCode(challenge, code.value.trim()));
    } catch (err) {
      submit.disabled = false;
      if (err instanceof ApiError && err.code === "sign_in_expired") {
        restart();
        return;
      }
      say(message, errorMessage(err, "security"));
      code.select();
      code.focus();
    }
  }
  const usePasskey = methods.includes("passkey") && !passkeysBlocked()
    ? h("button", { type: "button", class: "btn btn-primary btn-block", id: "login-passkey", onclick: async () => {
      say(message, "");
      try {
        await done(await securityApi.loginPasskey(challenge));
      } catch (err) {
        if (err instanceof ApiError && err.code === "sign_in_expired") return restart();
        say(message, err instanceof ApiError ? errorMessage(err, "security") : t("security.passkey_cancelled"));
      }
    } }, tx("security.use_passkey"))
    : null;
  replaceChildren(root,
    h("form", { class: "code-step", novalidate: true, onsubmit: onSubmit },
      usePasskey,
      usePasskey ? h("p", { class: "hint" }, tx("security.or_code")) : null,
      h("p", {}, tx("security.code_lede")),
      h("div", { class: "field" },
        h("label", { for: "login-code" }, tx("security.code_label")),
        code,
        h("p", { class: "hint", id: "login-code-hint" }, tx("security.code_hint")),
      ),
      message,
      submit,
      h("p", {}, h("button", { type: "button", class: "btn btn-quiet", onclick: restart }, tx("security.code_back"))),
    ),
  );
  code.focus();
}

/**
 * The step-up dialog: resolves true once a code was accepted (the caller repeats the
 * action), false when the person cancels. For `second_factor_required` it explains
 * that one must be set up first and links to the Security page.
 * @param {ApiError} err
 * @returns {Promise<boolean>}
 */
export function askStepUp(err) {
  return new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog step-up", "aria-labelledby": "step-up-title" }));
    const action = String(err.details.action ?? "");
    const finish = (/** @type {boolean} */ ok) => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    if (err.code === "second_factor_required") {
      dialog.append(
        h("h2", { id: "step-up-title" }, tx("security.required_title")),
        h("p", {}, tx("security.required_text", { action })),
        h("div", { class: "actions" },
          h("a", { class: "btn btn-primary", href: "#/security", onclick: () => finish(false) }, tx("security.go_setup")),
          h("button", { type: "button", class: "btn", onclick: () => finish(false) }, tx("app.cancel")),
        ),
      );
    } else {
      const code = codeInput("step-up-code");
      const message = h("div", { class: "form-message", role: "alert", "aria-live": "assertive" });
      const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("security.step_up_submit")));
      dialog.append(
        h("h2", { id: "step-up-title" }, tx("security.step_up_title")),
        h("p", {}, tx("security.step_up_text", { action, minutes: Number(err.details.within_minutes ?? 10) })),
        h("form", {
          novalidate: true,
          onsubmit: async (/** @type {Event} */ e) => {
            e.preventDefault();
            if (!code.value.trim()) return say(message, t("security.code_missing"));
            submit.disabled = true;
            try {
              await securityApi.stepUp(code.value.trim());
              finish(true);
            } catch (e2) {
              submit.disabled = false;
              say(message, errorMessage(e2, "security"));
              code.select();
            }
          },
        },
          h("div", { class: "field" },
            h("label", { for: "step-up-code" }, tx("security.code_label")),
            code,
            h("p", { class: "hint", id: "step-up-code-hint" }, tx("security.code_hint")),
          ),
          message,
          h("div", { class: "actions" }, submit,
            passkeysBlocked() ? null : h("button", { type: "button", class: "btn", id: "step-up-passkey", onclick: async () => {
              try {
                await securityApi.stepUpPasskey();
                finish(true);
              } catch (e3) {
                say(message, e3 instanceof ApiError ? errorMessage(e3, "security") : t("security.passkey_cancelled"));
              }
            } }, tx("security.use_passkey")),
            h("button", { type: "button", class: "btn", onclick: () => finish(false) }, tx("app.cancel"))),
        ),
      );
      setTimeout(() => code.focus(), 0);
    }
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Answer every `step_up_required` of the app with the dialog (called once at boot). */
export function installStepUp() {
  setStepUpHandler(askStepUp);
}

/** @param {string | null} factor */
function factorName(factor) {
  return t(`security.factor.${factor ?? "unknown"}`);
}

/** @type {import("./app.js").View} */
export function mountSecurity(root, ctx) {
  ctx.setTitle("security.title");
  let alive = true;
  const message = h("div", { class: "form-message", role: "status", "aria-live": "polite" });
  const factorBox = h("section", { class: "panel", id: "second-factor", "aria-labelledby": "second-factor-title" });
  const sessionsBox = h("section", { class: "panel", id: "sessions", "aria-labelledby": "sessions-title" });
  root.append(h("section", { class: "page security-page" },
    h("div", { class: "page-head" }, h("h1", {}, tx("security.title"))),
    message, factorBox, sessionsBox));

  /** @param {unknown} err */
  function fail(err) {
    if (err instanceof ApiError && err.code === "not_authenticated") return ctx.sessionExpired();
    say(message, errorMessage(err, "security"));
  }

  /** @param {string[]} codes */
  function showRecoveryCodes(codes) {
    replaceChildren(factorBox,
      h("h2", { id: "second-factor-title" }, tx("security.recovery_title")),
      h("p", {}, tx("security.recovery_text")),
      h("ol", { class: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => void loadFactor() }, tx("security.recovery_saved")),
    );
  }

  function startEnrolment() {
    const password = /** @type {HTMLInputElement} */ (h("input", { id: "enrol-password", type: "password", autocomplete: "current-password", required: true }));
    const err = h("div", { class: "form-message", role: "alert" });
    replaceChildren(factorBox,
      h("h2", { id: "second-factor-title" }, tx("security.enrol_title")),
      h("p", {}, tx("security.enrol_password_text")),
      h("form", {
        novalidate: true,
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          try {
            showQr(await securityApi.startTotp(password.value));
          } catch (e2) {
            say(err, errorMessage(e2, "security"));
          }
        },
      },
        h("div", { class: "field" }, h("label", { for: "enrol-password" }, tx("login.password")), password),
        err,
        h("div", { class: "actions" },
          h("button", { type: "submit", class: "btn btn-primary" }, tx("security.enrol_continue")),
          h("button", { type: "button", class: "btn", onclick: () => void loadFactor() }, tx("app.cancel"))),
      ),
    );
    password.focus();
  }

  /** @param {{secret: string, uri: string, qr: string}} enrolment */
  function showQr(enrolment) {
    const code = codeInput("enrol-code");
    const err = h("div", { class: "form-message", role: "alert" });
    replaceChildren(factorBox,
      h("h2", { id: "second-factor-title" }, tx("security.enrol_title")),
      h("p", {}, tx("security.enrol_scan")),
      h("img", { class: "qr", src: enrolment.qr, alt: t("security.qr_alt"), width: 220, height: 220 }),
      h("p", { class: "hint" }, tx("security.enrol_manual"), " ", h("code", { class: "totp-secret" }, enrolment.secret)),
      h("form", {
        novalidate: true,
        onsubmit: async (/** @type {Event} */ e) => {
          e.preventDefault();
          try {
            showRecoveryCodes(await securityApi.confirmTotp(code.value.trim()));
            say(message, t("security.enrolled"), "success");
          } catch (e2) {
            say(err, errorMessage(e2, "security"));
            code.select();
          }
        },
      },
        h("div", { class: "field" },
          h("label", { for: "enrol-code" }, tx("security.enrol_code_label")), code,
          h("p", { class: "hint", id: "enrol-code-hint" }, tx("security.enrol_code_hint"))),
        err,
        h("button", { type: "submit", class: "btn btn-primary" }, tx("security.enrol_confirm")),
      ),
    );
    code.focus();
  }

  async function loadFactor() {
    /** @type {SecurityStatus} */
    let st;
    try {
      st = await securityApi.status();
    } catch (err) {
      return fail(err);
    }
    if (!alive) return;
    const parts = [h("h2", { id: "second-factor-title" }, tx("security.factor_title"))];
    if (st.totp) {
      parts.push(
        h("p", { class: "form-message success", "data-enrolled": "true" }, tx("security.totp_on", { time: formatTime(st.totp.created_at) })),
        h("p", {}, tx("security.recovery_left", { count: st.recovery_codes_left })),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "btn", onclick: async () => {
            try {
              showRecoveryCodes(await securityApi.newRecoveryCodes());
            } catch (err) {
              fail(err);
            }
          } }, tx("security.new_recovery_codes")),
          h("button", { type: "button", class: "btn", onclick: startEnrolment }, tx("security.replace_app"))),
      );
    } else {
      parts.push(
        h("p", { class: `form-message ${st.required ? "error" : "info"}`, "data-enrolled": "false" },
          tx(st.required ? "security.required_for_you" : "security.optional_for_you")),
        h("button", { type: "button", class: "btn btn-primary", id: "enrol-start", onclick: startEnrolment }, tx("security.enrol_start")),
      );
    }
    parts.push(passkeySection(st));
    replaceChildren(factorBox, ...parts);
  }

  /** @param {SecurityStatus} st */
  function passkeySection(st) {
    const blocked = passkeysBlocked();
    const box = h("div", { class: "passkeys", id: "passkeys" }, h("h3", {}, tx("security.passkeys_title")));
    if (blocked || !st.passkeys_available) {
      box.append(h("p", { class: "form-message info", "data-passkeys": "unavailable" },
        tx(blocked === "bare_ip" || !st.passkeys_available ? "security.passkeys_bare_ip" : "security.passkeys_unsupported",
          { host: location.hostname, rp: st.rp_id })));
      return box;
    }
    if (st.passkeys.length) {
      box.append(h("ul", { class: "passkey-list" }, st.passkeys.map((pk) => h("li", { "data-passkey-id": pk.id },
        h("strong", {}, pk.label), " · ", tx("security.passkey_added", { time: formatTime(pk.created_at) }), " ",
        h("button", { type: "button", class: "btn btn-small", onclick: async () => {
          try {
            await securityApi.removePasskey(pk.id);
            await loadFactor();
          } catch (err) {
            fail(err);
          }
        } }, tx("security.remove"))))));
    }
    const password = /** @type {HTMLInputElement} */ (h("input", { id: "passkey-password", type: "password", autocomplete: "current-password" }));
    const label = /** @type {HTMLInputElement} */ (h("input", { id: "passkey-label", maxlength: 100, value: t("security.passkey_default_label") }));
    const err = h("div", { class: "form-message", role: "alert" });
    box.append(h("form", {
      novalidate: true,
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        try {
          await securityApi.addPasskey(password.value, label.value.trim() || "passkey");
          say(message, t("security.passkey_registered"), "success");
          await loadFactor();
        } catch (e2) {
          say(err, e2 instanceof ApiError ? errorMessage(e2, "security") : t("security.passkey_cancelled"));
        }
      },
    },
      h("p", {}, tx("security.passkey_text")),
      h("div", { class: "field" }, h("label", { for: "passkey-label" }, tx("security.passkey_label")), label),
      h("div", { class: "field" }, h("label", { for: "passkey-password" }, tx("login.password")), password),
      err,
      h("button", { type: "submit", class: "btn", id: "passkey-add" }, tx("security.passkey_add"))));
    return box;
  }

  async function loadSessions() {
    /** @type {Session[]} */
    let sessions;
    try {
      sessions = await securityApi.sessions();
    } catch (err) {
      return fail(err);
    }
    if (!alive) return;
    replaceChildren(sessionsBox,
      h("div", { class: "panel-head" },
        h("h2", { id: "sessions-title" }, tx("security.sessions_title")),
        sessions.length > 1
          ? h("button", { type: "button", class: "btn btn-danger btn-small", onclick: async () => {
            try {
              const n = await securityApi.endOtherSessions();
              say(message, t("security.sessions_ended", { count: n }), "success");
              await loadSessions();
            } catch (err) {
              fail(err);
            }
          } }, tx("security.end_others"))
          : null),
      sessionsTable(sessions, async (s) => {
        try {
          await securityApi.endSession(s.id);
          say(message, t("security.session_ended"), "success");
          await loadSessions();
        } catch (err) {
          fail(err);
        }
      }),
    );
  }

  void loadFactor();
  void loadSessions();
  return () => {
    alive = false;
  };
}

/**
 * The sessions table of the Security page (and of an administrator looking at a member).
 * @param {Session[]} sessions
 * @param {((s: Session) => void) | null} end
 */
export function sessionsTable(sessions, end) {
  if (!sessions.length) return h("p", {}, tx("security.no_sessions"));
  return h("div", { class: "table-wrap" },
    h("table", { class: "table sessions-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, tx("security.col_device")), h("th", {}, tx("security.col_address")),
        h("th", {}, tx("security.col_since")), h("th", {}, tx("security.col_last_seen")),
        h("th", {}, tx("security.col_factor")), end ? h("th", {}, "") : null)),
      h("tbody", {}, sessions.map((s) => h("tr", { "data-session-id": s.id, "data-current": String(s.current) },
        h("td", {}, s.device ?? "?", s.current ? h("span", { class: "chip chip-in" }, " ", tx("security.this_device")) : null),
        h("td", {}, s.address ?? "?"),
        h("td", {}, formatTime(s.created_at)),
        h("td", {}, s.last_seen_at ? formatTime(s.last_seen_at) : "—"),
        h("td", {}, factorName(s.factor)),
        end ? h("td", {}, s.current ? null : h("button", { type: "button", class: "btn btn-small", "data-action": "end-session", onclick: () => end(s) }, tx("security.end_session"))) : null,
      ))),
    ),
  );
}

/**
 * Mark the Security link of the top bar when the member's role requires a second
 * factor they do not have yet (so they find where to set it up before they need it).
 * @param {HTMLElement | null} link
 */
export async function flagSecurityLink(link) {
  if (!link) return;
  try {
    const st = await securityApi.status();
    const missing = st.required && !st.totp && !st.passkeys.length;
    link.classList.toggle("needs-attention", missing);
    link.title = missing ? t("security.required_for_you") : "";
  } catch {
    // not signed in, or the server is away: leave the link as it is
  }
}
