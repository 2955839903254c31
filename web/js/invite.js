// @ts-check
/**
 * Accept an invitation: check the link, let the member choose a password, sign in.
 * @module invite
 */
import { api } from "./protocol.js";
import { tx, t, formatTime } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";

const MIN_PASSWORD = 10;
const MAX_PASSWORD = 200;

/**
 * @param {HTMLElement} root
 * @param {import("./app.js").AppContext} ctx
 * @param {string} token
 */
export function mountInvite(root, ctx, token) {
  ctx.setTitle("invite.title");
  const panel = h("section", { class: "panel narrow auth" }, h("h1", {}, tx("invite.title")), h("p", { class: "loading" }, tx("app.loading")));
  root.append(panel);
  let alive = true;

  api.invitation(token).then(
    (inv) => alive && showForm(inv),
    (err) => {
      if (!alive) return;
      replaceChildren(panel,
        h("h1", {}, tx("invite.title")),
        h("p", { class: "form-message error", role: "alert" }, errorMessage(err, "invite")),
        h("p", {}, tx("invite.ask_admin")),
        h("p", {}, h("a", { class: "btn", href: "#/login" }, tx("invite.go_to_sign_in"))),
      );
    },
  );

  /** @param {{member_id: string, full_name: string, expires_at: string}} inv */
  function showForm(inv) {
    const pw = /** @type {HTMLInputElement} */ (h("input", {
      id: "invite-password", type: "password", autocomplete: "new-password", required: true,
      minlength: MIN_PASSWORD, maxlength: MAX_PASSWORD, "aria-describedby": "invite-password-hint",
    }));
    const pw2 = /** @type {HTMLInputElement} */ (h("input", {
      id: "invite-password2", type: "password", autocomplete: "new-password", required: true,
    }));
    const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary btn-block" }, tx("invite.submit")));
    const message = h("div", { class: "form-message", role: "alert" });
    const say = (/** @type {string} */ text) => {
      message.className = `form-message ${text ? "error" : ""}`;
      message.textContent = text;
    };

    /** @param {SubmitEvent} event */
    async function onSubmit(event) {
      event.preventDefault();
      if (pw.value.length < MIN_PASSWORD || pw.value.length > MAX_PASSWORD) {
        say(t("invite.error.length", { min: MIN_PASSWORD, max: MAX_PASSWORD }));
        pw.focus();
        return;
      }
      if (pw.value !== pw2.value) {
        say(t("invite.error.mismatch"));
        pw2.focus();
        return;
      }
      submit.disabled = true;
      say("");
      try {
        const member = await api.acceptInvitation(token, pw.value);
        await ctx.signedIn(member);
      } catch (err) {
        submit.disabled = false;
        say(errorMessage(err, "invite"));
      }
    }

    replaceChildren(panel,
      h("h1", {}, tx("invite.title")),
      h("p", { class: "lede" }, tx("invite.welcome", { name: inv.full_name, id: inv.member_id })),
      h("p", { class: "hint" }, tx("invite.expires", { time: formatTime(inv.expires_at) })),
      h("form", { novalidate: true, onsubmit: onSubmit },
        h("div", { class: "field" },
          h("label", { for: "invite-password" }, tx("invite.password")),
          pw,
          h("p", { class: "hint", id: "invite-password-hint" }, tx("invite.password_hint", { min: MIN_PASSWORD })),
        ),
        h("div", { class: "field" },
          h("label", { for: "invite-password2" }, tx("invite.password_again")),
          pw2,
        ),
        message,
        submit,
      ),
    );
    pw.focus();
  }

  return () => { alive = false; };
}
