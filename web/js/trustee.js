// @ts-check
/**
 * The trustee panel of the chair, the secretary and (once named) the deputy: their key
 * for secret ballots (made and kept in this browser), the chair's choice of a deputy
 * (then any 2 of the 3 decrypt, after a key generation the devices run by themselves),
 * a passphrase-encrypted backup of the key and its restore, and, when a secret poll
 * closes, checking every ballot on the board and decrypting the sums — with its
 * progress and "waiting for the secretary's device".
 * @module trustee
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { MIN_PASSPHRASE, TrusteeDevice, checkedKey, statementText } from "./e2e-client.js";
import { loadKey, signStatement } from "./officer-key.js";
import { OFFICER_KEY_ENROLLED } from "./officer-key-panel.js";
import { minutesApi } from "./procedure.js";
import { E2EError } from "./e2e-group.js";

/** How often a trustee's device fetches an open poll's new ballots to check them. */
const FOLLOW_EVERY_MS = 2000;

/** @param {unknown} err */
function trusteeError(err) {
  if (err instanceof E2EError) {
    const key = `trustee.error.${err.code}`;
    return t(key) !== key ? t(key) : err.message;
  }
  return errorMessage(err, "trustee");
}

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").Poll} Poll */
/** @typedef {import("./e2e-client.js").TrusteeState} TrusteeState */

/**
 * @param {Procedure} proc
 * @param {{myId: string, isChair?: boolean, officer?: boolean}} options a member's panel
 *   shows only while they are the deputy trustee
 */
export function createTrusteePanel(proc, { myId, isChair = false, officer = true }) {
  const device = new TrusteeDevice(proc.link, myId);
  const body = h("div", { class: "trustee-body" });
  const message = h("p", { class: "form-message", role: "alert" });
  const element = h("section", { class: "panel proc-panel trustee-panel", "aria-labelledby": "trustee-title", "data-key": "unknown" },
    h("h2", { id: "trustee-title" }, tx("trustee.title")), message, body);
  /** @type {TrusteeState | null} */
  let state = null;
  let keyStatus = "unknown";
  /** @type {Map<number, {done: number, total: number, state: "checking" | "sent" | "failed", error?: string}>} */
  const progress = new Map();
  let busy = false;
  const deputySelect = /** @type {HTMLSelectElement} */ (h("select", { "data-field": "deputy", "aria-label": t("trustee.deputy.choose") }));
  const passphrase = /** @type {HTMLInputElement} */ (h("input", { type: "password", "data-field": "backup-passphrase",
    autocomplete: "new-password", minlength: String(MIN_PASSPHRASE), "aria-label": t("trustee.backup.passphrase") }));
  const restoreFile = /** @type {HTMLInputElement} */ (h("input", { type: "file", accept: "application/json,.json",
    "data-field": "restore-file", "aria-label": t("trustee.backup.file") }));
  const backupMessage = h("p", { class: "form-message", role: "status" });

  /** @type {"none" | "done" | "no_key" | "failed"} whether this officer's device vouched for the poll key */
  let vouched = "none";
  let vouchError = "";

  /**
   * An officer-trustee's device signs the completed poll key with the officer's cosigning
   * key, once it has recomputed and checked that key itself (checkedKey).
   */
  async function vouch() {
    const me = state?.trustees.find((x) => x.trustee_id === myId);
    if (!state || !me || (me.role !== "chair" && me.role !== "secretary") || keyStatus !== "here") {
      vouched = "none";
      return;
    }
    try {
      const cur = await checkedKey(String(proc.link.meetingId), myId, state);
      if (!cur) {
        vouched = "none";
        return;
      }
      if ((state.statements ?? []).some((x) => x.trustee_id === myId && x.public_key === cur.publicKey)) {
        vouched = "done";
        return;
      }
      const mine = await minutesApi.myKeys();
      const key = mine.key ? await loadKey(mine.key_name) : null;
      if (!key || !mine.key) {
        vouched = "no_key";
        return;
      }
      const text = statementText(String(proc.link.meetingId), cur.publicKey, cur.shares);
      const signature = await signStatement(key, text);
      state = /** @type {TrusteeState} */ (await proc.link.emit("post_key_statement", { public_key: cur.publicKey, signature }));
      vouched = "done";
    } catch (err) {
      vouched = "failed";
      vouchError = trusteeError(err);
    }
  }

  async function refresh() {
    try {
      state = await device.state();
      keyStatus = await device.keyStatus(state);
      element.dataset.key = keyStatus;
      element.dataset.dkg = state.dkg?.phase ?? "none";
      if (keyStatus === "here" && await device.advance(state)) {
        state = await device.state();
        element.dataset.dkg = state.dkg?.phase ?? "none";
      }
      await vouch();
      element.dataset.vouched = vouched;
      message.textContent = ""; // an earlier failure (e.g. before the link had joined) is over
    } catch (err) {
      message.textContent = trusteeError(err);
    }
    render();
  }

  /** @param {string | null} memberId */
  async function nameDeputy(memberId) {
    message.textContent = "";
    try {
      await proc.link.emit("name_deputy_trustee", { member_id: memberId });
    } catch (err) {
      message.textContent = errorMessage(err, "trustee");
    }
    await refresh();
  }

  async function downloadBackup() {
    backupMessage.textContent = "";
    backupMessage.className = "form-message";
    if (passphrase.value.length < MIN_PASSPHRASE) {
      backupMessage.textContent = t("trustee.backup.short");
      return;
    }
    try {
      const backup = await device.backup(passphrase.value);
      const url = URL.createObjectURL(new Blob([JSON.stringify(backup, null, 2)], { type: "application/json" }));
      const a = /** @type {HTMLAnchorElement} */ (h("a", { href: url, download: `meetingd-trustee-${proc.link.meetingId}-${myId}.json` }));
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      passphrase.value = "";
      backupMessage.textContent = t("trustee.backup.done");
      backupMessage.className = "form-message success";
    } catch (err) {
      backupMessage.textContent = trusteeError(err);
      backupMessage.className = "form-message error";
    }
  }

  async function restoreBackup() {
    backupMessage.textContent = "";
    backupMessage.className = "form-message";
    const file = restoreFile.files?.[0];
    if (!file) return;
    try {
      await device.restore(await file.text(), passphrase.value);
      passphrase.value = "";
      restoreFile.value = "";
      backupMessage.textContent = t("trustee.backup.restored");
      backupMessage.className = "form-message success";
      backupMessage.dataset.restored = "true";
    } catch (err) {
      backupMessage.textContent = trusteeError(err);
      backupMessage.className = "form-message error";
    }
    await refresh();
  }

  async function createKey() {
    busy = true;
    message.textContent = "";
    render();
    try {
      state = await device.createKey();
      keyStatus = await device.keyStatus(state);
      element.dataset.key = keyStatus;
    } catch (err) {
      message.textContent = errorMessage(err, "trustee");
    }
    busy = false;
    render();
  }

  /** @param {number} pollId */
  async function decrypt(pollId) {
    const p = progress.get(pollId);
    if (p && (p.state === "checking" || p.state === "sent")) return;
    progress.set(pollId, { done: 0, total: 0, state: "checking" });
    render();
    try {
      await device.decrypt(pollId, (done, total) => {
        progress.set(pollId, { done, total, state: "checking" });
        render();
      });
      const cur = progress.get(pollId);
      progress.set(pollId, { done: cur?.done ?? 0, total: cur?.total ?? 0, state: "sent" });
    } catch (err) {
      progress.set(pollId, { done: 0, total: 0, state: "failed", error: trusteeError(err) });
    }
    render();
  }

  /** @type {Map<number, number>} open polls this device follows → ballots checked so far */
  const following = new Map();
  let followBusy = false;

  /** Open secret polls this device holds a share for: check their new ballots now. */
  async function followOpen() {
    if (followBusy || keyStatus !== "here") return;
    const open = (proc.state?.polls ?? []).filter((p) => p.state === "open" && p.e2e && p.e2e.trustees.includes(myId));
    if (!open.length) return;
    followBusy = true;
    for (const p of open) {
      try {
        await device.follow(p.poll_id);
      } catch {
        // a chunk that does not check is fetched and refused again, and at close refused for
        // good (nothing is decrypted); a lost link retries; other polls go on being followed
      }
      const n = device.followers.get(p.poll_id)?.checked.size ?? 0;
      if (n !== following.get(p.poll_id)) {
        following.set(p.poll_id, n);
        render();
      }
    }
    followBusy = false;
  }
  setInterval(followOpen, FOLLOW_EVERY_MS);

  /** Secret polls closed and waiting for this trustee's partial decryption. */
  function waitingForMe() {
    return (proc.state?.polls ?? []).filter((p) => p.state === "closed" && p.e2e && p.e2e.waiting_for.includes(myId));
  }

  /** @param {string} id */
  function roleName(id) {
    const who = state?.trustees.find((x) => x.trustee_id === id);
    return who ? t(`trustee.device.${who.role}`) : id;
  }

  function keyLine() {
    if (keyStatus === "here") return h("p", { class: "form-message success", "data-status": "here" }, tx("trustee.key_here"));
    if (keyStatus === "elsewhere") return h("p", { class: "form-message error", "data-status": "elsewhere" }, tx("trustee.key_elsewhere"));
    return h("div", {},
      h("p", { "data-status": keyStatus }, tx(keyStatus === "unposted" ? "trustee.key_unposted" : "trustee.key_none")),
      h("button", { type: "button", class: "btn btn-primary", "data-action": "create-key", disabled: busy, onclick: () => createKey() },
        tx(keyStatus === "unposted" ? "trustee.post_key" : "trustee.create_key")));
  }

  /** The chair's choice of a deputy trustee. */
  function deputyPart() {
    const deputy = state?.trustees.find((x) => x.role === "deputy")?.trustee_id ?? null;
    const nameOf = (/** @type {string} */ id) => proc.entry(id)?.full_name ?? id;
    if (!isChair) {
      return deputy ? h("p", { class: "hint", "data-deputy": deputy }, tx("trustee.deputy.current", { name: nameOf(deputy) })) : null;
    }
    const members = (proc.state?.attendance.members ?? []).filter((m) => m.role === "member" && m.voting);
    const chosen = deputySelect.value;
    replaceChildren(deputySelect, h("option", { value: "" }, tx("trustee.deputy.choose")),
      members.map((m) => h("option", { value: m.member_id }, m.full_name)));
    deputySelect.value = members.some((m) => m.member_id === chosen) ? chosen : "";
    const failed = state?.dkg?.phase === "failed";
    return h("div", { class: "trustee-deputy", "data-deputy": deputy ?? "" },
      h("h3", {}, tx("trustee.deputy.title")),
      h("p", { class: "hint" }, deputy ? tx("trustee.deputy.current", { name: nameOf(deputy) }) : tx("trustee.deputy.none")),
      failed && deputy ? h("button", { type: "button", class: "btn", "data-action": "restart-dkg", onclick: () => nameDeputy(deputy) },
        tx("trustee.deputy.restart")) : null,
      h("div", { class: "form-row" }, deputySelect,
        h("button", { type: "button", class: "btn", "data-action": "name-deputy",
          onclick: () => { if (deputySelect.value) nameDeputy(deputySelect.value); } }, tx("trustee.deputy.name")),
        deputy ? h("button", { type: "button", class: "btn btn-small", "data-action": "clear-deputy", onclick: () => nameDeputy(null) },
          tx("trustee.deputy.clear")) : null));
  }

  /** Where the key generation is (with a deputy). */
  function dkgLine() {
    const d = state?.dkg;
    if (!d) return null;
    const done = d.phase === "keys" ? d.keys.map((k) => k.trustee_id)
      : d.phase === "dealings" ? d.dealings.map((x) => x.dealer) : d.confirmed;
    const who = d.phase === "failed" ? roleName(d.failed_by ?? "")
      : d.trustees.filter((id) => !done.includes(id)).map(roleName).join(", ");
    return h("p", { class: d.phase === "failed" ? "form-message error" : "hint", "data-dkg-phase": d.phase },
      tx(`trustee.dkg.${d.phase}`, { who }));
  }

  // kept across renders, so an open backup section and its inputs survive updates
  const backupButton = h("button", { type: "button", class: "btn", "data-action": "backup", onclick: () => downloadBackup() },
    tx("trustee.backup.download"));
  const backupDetails = h("details", { class: "trustee-backup" },
    h("summary", {}, tx("trustee.backup.title")),
    h("label", {}, tx("trustee.backup.passphrase"), passphrase),
    backupButton,
    h("label", {}, tx("trustee.backup.file"), restoreFile),
    h("button", { type: "button", class: "btn", "data-action": "restore", onclick: () => restoreBackup() },
      tx("trustee.backup.restore")),
    backupMessage);

  function backupPart() {
    if (keyStatus !== "here" && keyStatus !== "elsewhere" && keyStatus !== "unposted") return null;
    backupButton.hidden = keyStatus === "elsewhere";
    return backupDetails;
  }

  /** The open polls this device is checking as their ballots come. */
  function followingPart() {
    const open = (proc.state?.polls ?? []).filter((p) => p.state === "open" && following.get(p.poll_id));
    return open.map((p) => h("p", { class: "hint", "data-following": p.poll_id, "data-checked": String(following.get(p.poll_id)) },
      h("strong", {}, p.config.question), " ", tx("trustee.following", { n: following.get(p.poll_id) ?? 0 })));
  }

  function render() {
    const mine = Boolean(state?.trustees.some((x) => x.trustee_id === myId));
    element.hidden = !officer && !mine;
    const polls = (proc.state?.polls ?? []).filter((p) => p.e2e && p.state === "closed" && (p.e2e.waiting_for.length || progress.has(p.poll_id)));
    for (const p of waitingForMe()) if (!progress.has(p.poll_id) && keyStatus === "here") decrypt(p.poll_id);
    replaceChildren(body,
      deputyPart(),
      mine ? keyLine() : null,
      dkgLine(),
      state && !state.dkg ? h("ul", { class: "trustee-list" }, state.trustees.map((x) => h("li", { "data-trustee": x.trustee_id, "data-posted": String(Boolean(x.key)) },
        `${t(`trustee.role.${x.role}`)}: `, tx(x.key ? "trustee.posted" : "trustee.not_posted")))) : null,
      state && !state.dkg ? h("p", { class: "hint", "data-ready": String(Boolean(state.public_key)) },
        tx(state.public_key ? "trustee.ready" : "trustee.not_ready")) : null,
      vouched === "done" ? h("p", { class: "hint", "data-vouch": "done" }, tx("trustee.vouch.done")) : null,
      vouched === "no_key" ? h("p", { class: "form-message", "data-vouch": "no_key" }, tx("trustee.vouch.no_key")) : null,
      vouched === "failed" ? h("p", { class: "form-message error", "data-vouch": "failed" }, vouchError) : null,
      mine ? backupPart() : null,
      followingPart(),
      polls.map((p) => {
        const mine = progress.get(p.poll_id);
        const e = /** @type {NonNullable<Poll["e2e"]>} */ (p.e2e);
        const others = e.waiting_for.filter((id) => id !== myId);
        return h("div", { class: "trustee-poll", "data-poll-id": p.poll_id },
          h("p", {}, h("strong", {}, p.config.question)),
          mine?.state === "checking" ? h("p", { role: "status" }, tx("trustee.checking", { done: mine.done, total: mine.total })) : null,
          mine?.state === "sent" ? h("p", { class: "form-message success" }, tx("trustee.decrypted")) : null,
          mine?.state === "failed" ? h("p", { class: "form-message error" }, mine.error ?? "",
            " ", h("button", { type: "button", class: "btn btn-small", onclick: () => { progress.delete(p.poll_id); decrypt(p.poll_id); } }, tx("trustee.retry"))) : null,
          others.length && !e.threshold ? h("p", { class: "hint", "data-waiting": others.join(",") }, tx("trustee.waiting_for", { who: others.map(roleName).join(", ") })) : null,
          others.length && e.threshold ? h("p", { class: "hint", "data-waiting": others.join(",") }, tx("trustee.waiting_for_any",
            { n: e.threshold - e.decrypted_by.length, who: others.map(roleName).join(", ") })) : null);
      }));
  }

  proc.addEventListener("trustee_key_posted", () => { refresh(); });
  window.addEventListener(OFFICER_KEY_ENROLLED, () => { refresh(); });
  proc.addEventListener("e2e_dkg_progress", () => { refresh(); });
  proc.addEventListener("board_published", () => render());
  proc.addEventListener("change", () => render());
  proc.link.addEventListener("joined", () => { refresh(); });
  // before the link has joined the server refuses get_e2e ('join' first): "joined" refreshes then
  if (proc.link.status.state === "connected") refresh();
  return { element, render, refresh };
}
