// @ts-check
/**
 * The member's voting panel, phone first: a "Vote open" banner, one large button per
 * option, a confirm step, then the receipt. After a reload or a reconnect it shows
 * "you have voted"; a ballot not yet acknowledged is retried with the same ballot id.
 * After close: the result and, for the member's own receipt, "counted as cast".
 * @module vote
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";
import { renderResults, optionLabel } from "./results.js";
import { formatDuration } from "./speakers.js";
import { prepareBallot, checkBallot, checkPollKey } from "./e2e-client.js";

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").Poll} Poll */

/**
 * @typedef {object} UiState what the member is doing in one poll
 * @property {number[]} selected
 * @property {"choose" | "confirm" | "sending" | "done"} step
 * @property {string} error
 * @property {boolean} retrying
 * @property {boolean} changing re-voting in a poll that allows changes
 * @property {{ballot: unknown, tracker: string, randomness: string[]} | null} prepared a secret
 *   poll: the ballot encrypted on this device, waiting for "confirm" (or "check this ballot")
 * @property {boolean} encrypting
 * @property {boolean} auditing the prepared ballot was opened for a check: it is never cast
 * @property {boolean} castHere this page cast the ballot (a reload forgets it)
 * @property {number[] | null} castChoices what this page cast, kept in memory only
 * @property {number} revealUntil "show my choice" is on until this time (ms)
 * @property {import("./e2e-client.js").KeyCheck | null} [keyResult] what the check of the key the
 *   prepared ballot is encrypted under found
 */

/** How long "show my choice" shows a secret choice. */
const REVEAL_MS = 5000;

/**
 * A receipt or tracker that a narrow screen breaks only between its groups: at its
 * own dashes ("7HYM-FQBK-…"), or in groups of four when it has none.
 * @param {string} code
 */
export function receiptCode(code) {
  const dashed = code.includes("-");
  const groups = dashed ? code.split("-") : code.match(/.{1,4}/g) ?? [code];
  return h("code", { class: "receipt-code", "data-receipt": code, "aria-label": code },
    groups.flatMap((g, i) => [...(i ? (dashed ? ["-", h("wbr")] : [" "]) : []), h("span", { class: "receipt-group" }, g)]));
}

/** @param {string} tracker the first 16 hex digits, in groups of four */
export function shortTracker(tracker) {
  return (tracker.slice(0, 16).match(/.{4}/g) ?? []).join(" ");
}

/** @param {Poll} poll */
export function remaining(poll) {
  if (!poll.expires_at || poll.state !== "open") return null;
  return new Date(poll.expires_at).getTime() - Date.now();
}

/**
 * @param {Procedure} proc
 * @param {{canVote: () => boolean, whyNot: () => string}} options
 */
export function createVotePanel(proc, { canVote, whyNot }) {
  const element = h("section", { class: "vote-zone", "aria-live": "polite" });
  /** @type {Map<number, UiState>} */
  const ui = new Map();
  /** @type {Map<number, {card: HTMLElement, head: HTMLElement, controls: HTMLElement, live: HTMLElement, sig: string}>} */
  const cards = new Map();
  /** closed polls the member saw open, or voted in: their result is shown */
  const followed = new Set();

  /** @param {number} pollId */
  function stateOf(pollId) {
    let s = ui.get(pollId);
    if (!s) {
      s = { selected: [], step: "choose", error: "", retrying: false, changing: false, prepared: null, encrypting: false,
        auditing: false, castHere: false, castChoices: null, revealUntil: 0 };
      ui.set(pollId, s);
    }
    return s;
  }

  proc.addEventListener("retrying", (e) => {
    const { poll_id } = /** @type {CustomEvent} */ (e).detail;
    stateOf(poll_id).retrying = true;
    render();
  });
  proc.addEventListener("cast_failed", (e) => {
    const { poll_id, error } = /** @type {CustomEvent} */ (e).detail;
    const s = stateOf(poll_id);
    s.step = "choose";
    s.error = errorMessage(error, "vote");
    render();
  });

  /**
   * @param {Poll} poll
   * @param {number} i
   */
  function toggle(poll, i) {
    const s = stateOf(poll.poll_id);
    s.error = "";
    if (poll.config.max_choices <= 1) {
      s.selected = [i];
      s.step = "confirm";
    } else if (s.selected.includes(i)) {
      s.selected = s.selected.filter((x) => x !== i);
    } else if (s.selected.length < poll.config.max_choices) {
      s.selected = [...s.selected, i];
    } else {
      s.error = t("vote.max_reached", { count: poll.config.max_choices });
    }
    render();
    if (s.step === "confirm") /** @type {HTMLElement | null | undefined} */ (cards.get(poll.poll_id)?.controls.querySelector("[data-action='confirm-vote']"))?.focus();
  }

  /** @param {Poll} poll */
  async function send(poll) {
    const s = stateOf(poll.poll_id);
    s.step = "sending";
    s.error = "";
    s.retrying = false;
    render();
    try {
      if (poll.config.kind === "secret") {
        const prepared = s.prepared;
        if (!prepared || s.auditing) throw new Error("no encrypted ballot to cast");
        s.prepared = null; // the randomness goes with it: nobody can open this ballot now
        await proc.castEncrypted(poll.poll_id, prepared);
      } else {
        await proc.cast(poll.poll_id, s.selected);
      }
      s.castHere = true;
      s.castChoices = [...s.selected];
      s.revealUntil = 0;
      s.step = "done";
      s.changing = false;
      followed.add(poll.poll_id);
    } catch (err) {
      s.step = "choose";
      s.error = errorMessage(err, "vote");
    }
    s.retrying = false;
    render();
  }

  /** @param {Poll} poll */
  function choices(poll) {
    const s = stateOf(poll.poll_id);
    if (poll.config.kind === "secret" && poll.e2e) keyCheckOf(poll, poll.e2e.context); // checked while the member chooses
    const multi = poll.config.max_choices > 1;
    return h("div", { class: "vote-choose" },
      h("p", { class: "vote-instruction" }, multi
        ? tx("vote.choose_up_to", { count: poll.config.max_choices })
        : tx("vote.choose_one")),
      h("div", { class: `vote-options${poll.config.type === "motion" ? " vote-options-motion" : ""}` },
        poll.config.options.map((name, i) => {
          const on = s.selected.includes(i);
          return h("button", {
            type: "button",
            class: `vote-option vote-${poll.config.type === "motion" ? name : "candidate"}${on ? " selected" : ""}`,
            "data-option": name,
            "aria-pressed": String(on),
            onclick: () => toggle(poll, i),
          }, optionLabel(poll.config, i));
        })),
      multi
        ? h("div", { class: "actions" },
            h("button", { type: "button", class: "btn btn-primary btn-block", "data-action": "review-vote",
              disabled: poll.config.kind === "secret" && !s.selected.length,
              onclick: () => { s.step = "confirm"; render(); } },
              s.selected.length ? tx("vote.review") : tx(poll.config.kind === "secret" ? "vote.choose_at_least_one" : "vote.review_blank")))
        : null,
    );
  }

  /** @type {Map<string, Promise<import("./e2e-client.js").KeyCheck | null>>} checks by exact context */
  const keyChecks = new Map();

  /**
   * Check the key a secret poll encrypts under, for this exact context (cached by it;
   * dropped when it could not be fetched, or when an officer vouches meanwhile): the
   * officer-trustees' signed statements must name exactly this key.
   * @param {Poll} poll @param {import("./e2e-client.js").E2EContext} context
   */
  function keyCheckOf(poll, context) {
    const key = JSON.stringify([poll.poll_id, context]);
    let check = keyChecks.get(key);
    if (!check) {
      check = proc.link.emit("get_e2e", { poll_id: poll.poll_id })
        .then((state) => checkPollKey(context, /** @type {import("./e2e-client.js").TrusteeState} */ (state), String(proc.link.meetingId)))
        .catch(() => { keyChecks.delete(key); return null; });
      keyChecks.set(key, check);
    }
    return check;
  }
  proc.addEventListener("key_statement_posted", () => { keyChecks.clear(); });

  /** @param {string[]} ids @param {import("./e2e-client.js").KeyCheck} check */
  function whoseDevices(ids, check) {
    return ids.map((id) => t(`trustee.device.${check.roles[id] ?? "secretary"}`)).join(", ");
  }

  /** @param {Poll} poll */
  async function encrypt(poll) {
    const s = stateOf(poll.poll_id);
    const context = poll.e2e?.context;
    if (s.encrypting || s.prepared || !context) return;
    s.encrypting = true;
    s.keyResult = await keyCheckOf(poll, context); // the very context the ballot is encrypted under
    if (s.keyResult?.state === "bad") {
      s.error = t("vote.key.bad", { who: whoseDevices(s.keyResult.bad, s.keyResult) });
      s.step = "choose";
      s.encrypting = false;
      render();
      return;
    }
    setTimeout(() => { // let "encrypting…" show first
      try {
        s.prepared = prepareBallot(context, s.selected); // the context just checked
      } catch {
        s.error = t("vote.error.encrypt_failed");
        s.step = "choose";
      }
      s.encrypting = false;
      render();
    }, 0);
  }

  /**
   * A secret ballot: encrypted on this phone before it is confirmed; "check this
   * ballot" opens it with its randomness (Benaloh) and then it is thrown away.
   * @param {Poll} poll
   */
  function secretConfirm(poll) {
    const s = stateOf(poll.poll_id);
    const picked = s.selected.map((i) => optionLabel(poll.config, i)).join(", ");
    if (!poll.e2e) return h("p", { class: "hint", role: "status" }, tx("vote.e2e_waiting"));
    if (!s.prepared) {
      encrypt(poll);
      return h("div", { class: "vote-sending vote-encrypting", role: "status" },
        h("span", { class: "spinner", "aria-hidden": "true" }), tx("vote.encrypting"));
    }
    const prepared = s.prepared;
    if (s.auditing) {
      let opened = /** @type {number[] | null} */ (null);
      try { opened = checkBallot(poll.e2e.context, prepared.ballot, prepared.randomness); } catch { opened = null; }
      const ok = opened !== null && opened.length === s.selected.length && opened.every((i) => s.selected.includes(i));
      const inside = opened ? opened.map((i) => optionLabel(poll.config, i)).join(", ") : "?";
      return h("div", { class: "vote-audit", "data-audit": ok ? "ok" : "failed" },
        h("p", { class: `form-message ${ok ? "success" : "error"}`, role: "status" },
          ok ? tx("vote.audit_ok", { choice: inside }) : tx("vote.audit_failed", { choice: inside })),
        h("p", { class: "hint" }, tx("vote.audit_explain")),
        h("details", {},
          h("summary", {}, tx("vote.audit_details")),
          h("p", {}, tx("vote.tracker"), " ", h("code", { class: "tracker-code" }, prepared.tracker)),
          h("pre", { class: "audit-data" }, JSON.stringify({ ballot: prepared.ballot, randomness: prepared.randomness }, null, 1))),
        h("div", { class: "vote-confirm-actions" },
          h("button", { type: "button", class: "btn btn-primary btn-big", "data-action": "encrypt-anew",
            onclick: () => { s.prepared = null; s.auditing = false; render(); } }, tx("vote.encrypt_anew"))));
    }
    return h("div", { class: "vote-confirm" },
      h("p", { class: "vote-confirm-text" }, tx("vote.you_chose"), " ", h("strong", { class: "vote-picked" }, picked)),
      h("p", { class: "hint" }, tx("vote.encrypted_note")),
      keyLine(s.keyResult ?? null),
      h("p", { class: "hint" }, tx("vote.tracker"), " ", h("code", { class: "tracker-code" }, shortTracker(prepared.tracker))),
      poll.config.allow_change ? null : h("p", { class: "hint" }, tx("vote.final_note")),
      h("div", { class: "vote-confirm-actions" },
        h("button", { type: "button", class: "btn btn-primary btn-big", "data-action": "confirm-vote", onclick: () => send(poll) }, tx("vote.confirm")),
        h("button", { type: "button", class: "btn", "data-action": "check-ballot", onclick: () => { s.auditing = true; render(); } }, tx("vote.check_ballot")),
        h("button", { type: "button", class: "btn btn-big", "data-action": "back", onclick: () => { s.prepared = null; s.step = "choose"; render(); } }, tx("vote.back"))),
    );
  }

  /** What this device found about the poll key (null: it could not ask). @param {import("./e2e-client.js").KeyCheck | null} k */
  function keyLine(k) {
    if (!k) return h("p", { class: "form-message", "data-key-check": "unknown" }, tx("vote.key.unknown"));
    const codes = Object.values(k.fingerprints).join(", ");
    return h("div", { class: "vote-key", "data-key-check": k.state },
      k.state === "ok" ? h("p", { class: "hint" }, tx("vote.key.ok", { who: whoseDevices(k.vouched, k), codes })) : null,
      k.state === "missing" ? h("p", { class: "form-message" }, tx("vote.key.missing", { who: whoseDevices(k.missing, k) })) : null,
      k.changed.length ? h("p", { class: "form-message", "data-key-changed": k.changed.join(",") },
        tx("vote.key.changed", { who: whoseDevices(k.changed, k), codes })) : null);
  }

  /** @param {Poll} poll */
  function confirmStep(poll) {
    if (poll.config.kind === "secret") return secretConfirm(poll);
    const s = stateOf(poll.poll_id);
    const picked = s.selected.length ? s.selected.map((i) => optionLabel(poll.config, i)).join(", ") : t("vote.blank");
    return h("div", { class: "vote-confirm" },
      h("p", { class: "vote-confirm-text" }, tx("vote.you_chose"), " ", h("strong", { class: "vote-picked" }, picked)),
      h("p", { class: "hint" }, tx("vote.open_note")),
      poll.config.allow_change ? null : h("p", { class: "hint" }, tx("vote.final_note")),
      h("div", { class: "vote-confirm-actions" },
        h("button", { type: "button", class: "btn btn-primary btn-big", "data-action": "confirm-vote", onclick: () => send(poll) }, tx("vote.confirm")),
        h("button", { type: "button", class: "btn btn-big", "data-action": "back", onclick: () => { s.step = "choose"; render(); } }, tx("vote.back"))),
    );
  }

  /**
   * A download link for the server's signed receipt kept on this device, if any.
   * @param {Poll} poll
   */
  function signedReceiptLink(poll) {
    const signed = proc.storedBallot(poll.poll_id)?.signed_receipt;
    if (!signed) return null;
    const url = URL.createObjectURL(new Blob([signed], { type: "text/plain" }));
    return h("p", { class: "hint" },
      h("a", { href: url, download: `receipt-poll-${poll.poll_id}.txt`, "data-action": "download-receipt" }, tx("vote.signed_receipt")),
      " ", tx("vote.signed_receipt_hint"));
  }

  /**
   * After casting: the tracker and "counted", never the choice of a secret ballot on
   * screen (neighbours in the room can read a phone). "Show my choice" reveals it for
   * a few seconds, and only on the page that cast it: after a reload it is gone.
   * @param {Poll} poll
   * @param {ReturnType<Procedure["myVote"]>} mine
   */
  function receipt(poll, mine) {
    const s = stateOf(poll.poll_id);
    const secret = poll.config.kind === "secret";
    const pickedText = (/** @type {number[]} */ c) => (c.length ? c.map((i) => optionLabel(poll.config, i)).join(", ") : t("vote.blank"));
    /** @type {HTMLElement | null} */
    let choiceLine = null;
    if (!secret && mine.choices) {
      choiceLine = h("p", {}, tx("vote.your_choice"), " ", h("strong", { class: "vote-picked" }, pickedText(mine.choices)));
    } else if (secret && s.castHere && s.castChoices) {
      const cast = s.castChoices;
      const shown = Date.now() < s.revealUntil;
      choiceLine = shown
        ? h("p", { class: "vote-reveal", "data-revealed": "true" }, tx("vote.your_choice"), " ", h("strong", { class: "vote-picked" }, pickedText(cast)))
        : h("button", { type: "button", class: "btn btn-quiet", "data-action": "reveal-choice",
            onclick: () => {
              s.revealUntil = Date.now() + REVEAL_MS;
              render();
              setTimeout(render, REVEAL_MS + 50);
            } }, tx("vote.tap_to_show"));
    }
    return h("div", { class: "vote-done", "data-voted": "true" },
      h("p", { class: "vote-done-title" }, h("span", { class: "check", "aria-hidden": "true" }, "✓"),
        tx(secret ? "vote.counted" : "vote.you_voted")),
      mine.receipt
        ? h("p", { class: "receipt" }, tx(secret ? "vote.tracker" : "vote.receipt"), " ", receiptCode(mine.receipt))
        : secret ? h("p", { class: "hint" }, tx("vote.receipt_other_device")) : null,
      choiceLine,
      mine.receipt && secret && poll.state === "open" ? h("p", { class: "hint" }, tx("vote.receipt_hint")) : null,
      signedReceiptLink(poll),
      poll.config.allow_change && poll.state === "open" && (poll.config.kind === "open" || proc.storedBallot(poll.poll_id))
        ? h("button", { type: "button", class: "btn", "data-action": "change-vote", onclick: () => { s.changing = true; s.step = "choose"; s.selected = []; render(); } }, tx("vote.change"))
        : null,
    );
  }

  /** @param {Poll} poll */
  function receiptCheck(poll) {
    const check = proc.receiptCheck(poll);
    if (!check) return null;
    const cls = check === "counted" || check === "tracker_counted" ? "success" : "error";
    return h("p", { class: `form-message ${cls} receipt-check`, "data-check": check }, tx(`vote.check.${check}`));
  }

  /** @param {Poll} poll */
  function controlsFor(poll) {
    const s = stateOf(poll.poll_id);
    const mine = proc.myVote(poll.poll_id);
    const sending = s.step === "sending" || mine.pending;
    if (poll.state === "closed") {
      return h("div", { class: "vote-closed" },
        mine.has_voted ? receipt(poll, mine) : null,
        receiptCheck(poll));
    }
    if (!canVote()) return h("p", { class: "vote-cannot" }, whyNot());
    if (sending) {
      return h("div", { class: "vote-sending", role: "status" },
        h("span", { class: "spinner", "aria-hidden": "true" }),
        tx(s.retrying ? "vote.retrying" : "vote.sending"));
    }
    if (mine.has_voted && !s.changing) return receipt(poll, mine);
    return h("div", {},
      s.step === "confirm" ? confirmStep(poll) : choices(poll),
      s.error ? h("p", { class: "form-message error", role: "alert" }, s.error) : null,
      s.changing ? h("button", { type: "button", class: "btn btn-quiet", onclick: () => { s.changing = false; s.step = "choose"; render(); } }, tx("app.cancel")) : null);
  }

  /** @param {Poll} poll */
  function signature(poll) {
    const s = stateOf(poll.poll_id);
    const mine = proc.myVote(poll.poll_id);
    return JSON.stringify([poll.state, canVote(), s, mine, Boolean(poll.result), Date.now() < s.revealUntil,
      proc.receiptCheck(poll)]);
  }

  /** @param {Poll} poll */
  function headFor(poll) {
    const motion = proc.motion(poll.poll_id);
    const left = remaining(poll);
    return h("div", { class: "vote-head-inner" },
      h("p", { class: "vote-flag" }, tx(poll.state === "open" ? "vote.open_banner" : "vote.closed_banner")),
      h("h2", { class: "vote-question" }, poll.config.question),
      motion && motion.text !== poll.config.question ? h("p", { class: "vote-motion" }, motion.text) : null,
      h("p", { class: "vote-meta" },
        tx(`vote.kind.${poll.config.kind}`),
        left !== null ? [" · ", h("span", { class: "countdown" }, tx("vote.time_left", { time: formatDuration(left) }))] : null),
    );
  }

  function render() {
    const s = proc.state;
    if (!s) {
      replaceChildren(element);
      return;
    }
    for (const p of s.polls) if (p.state === "open" || proc.myVote(p.poll_id).has_voted) followed.add(p.poll_id);
    const shown = s.polls
      .filter((p) => p.state === "open" || (p.state === "closed" && followed.has(p.poll_id)))
      .sort((a, b) => (a.state === b.state ? b.poll_id - a.poll_id : a.state === "open" ? -1 : 1))
      .slice(0, 3);
    const keep = new Set(shown.map((p) => p.poll_id));
    for (const [id, c] of cards) if (!keep.has(id)) { c.card.remove(); cards.delete(id); }
    for (const poll of shown) {
      let c = cards.get(poll.poll_id);
      if (!c) {
        const head = h("header", { class: "vote-head" });
        const controls = h("div", { class: "vote-controls" });
        const live = h("div", { class: "vote-live" });
        c = { card: h("article", { class: "vote-card", "data-poll-id": poll.poll_id }, head, controls, live), head, controls, live, sig: "" };
        cards.set(poll.poll_id, c);
      }
      c.card.dataset.state = poll.state;
      const sig = signature(poll);
      if (sig !== c.sig) {
        c.sig = sig;
        replaceChildren(c.controls, controlsFor(poll));
      }
      replaceChildren(c.head, headFor(poll));
      replaceChildren(c.live, renderResults(poll, { showQuestion: false }));
    }
    // re-attach the cards only when their order changes (moving a node drops its focus)
    const wanted = shown.map((p) => /** @type {any} */ (cards.get(p.poll_id)).card);
    if (wanted.length !== element.children.length || wanted.some((card, i) => element.children[i] !== card)) {
      replaceChildren(element, wanted);
    }
    element.hidden = !shown.length;
  }

  /** Update the countdowns only. */
  function tick() {
    for (const [id, c] of cards) {
      const poll = proc.poll(id);
      const el = c.card.querySelector(".countdown");
      if (poll && el) {
        const left = remaining(poll);
        el.textContent = left === null ? "" : t("vote.time_left", { time: formatDuration(left) });
      }
    }
  }

  proc.addEventListener("poll_opened", (e) => {
    const poll = /** @type {CustomEvent<Poll>} */ (e).detail;
    if (poll) {
      ui.delete(poll.poll_id);
      followed.add(poll.poll_id);
    }
    render(); // the room brings the Vote tab forward (room.js)
  });
  render();
  return { element, render, tick };
}
