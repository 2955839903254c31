// @ts-check
/**
 * The chair console: agenda (current item), motions, polls (create on a motion, open —
 * with an explicit quorum override when there is no quorum —, close, results with the
 * rule applied), and the hand-count entry the secretary, the chair and sub-site
 * operators use for open, single-choice polls.
 * @module chair
 */
import { t, tx } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage, runAction } from "./errors.js";
import { renderResults, optionLabel } from "./results.js";

/** @typedef {import("./procedure.js").Procedure} Procedure */
/** @typedef {import("./procedure.js").Poll} Poll */

let formSeq = 0;

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {HTMLElement} control
 * @param {string} [hintKey]
 */
function field(id, labelKey, control, hintKey) {
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, tx(labelKey)), control, hintKey ? h("p", { class: "hint" }, tx(hintKey)) : null);
}

/**
 * @param {string} id
 * @param {string} labelKey
 * @param {boolean} [checked]
 */
function checkbox(id, labelKey, checked = false) {
  const input = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id, checked }));
  return { input, element: h("label", { class: "check", for: id }, input, tx(labelKey)) };
}

/**
 * Hand-count entry for one open poll: one number per option.
 * @param {Procedure} proc
 * @param {Poll} poll
 * @param {string} placeKey what is counted ("main room" or the operator's site)
 */
export function handCountForm(proc, poll, placeKey) {
  const n = ++formSeq;
  const inputs = poll.config.options.map((_, i) => /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", value: "0", id: `hand-${n}-${i}`, class: "hand-input" })));
  const message = h("p", { class: "form-message", role: "alert" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", "data-action": "record-hand-count" }, tx("hand.record")));
  const existing = poll.hand_counts.filter((x) => (placeKey === "main" ? x.site === null : x.site === placeKey));
  const previous = existing[existing.length - 1];
  if (previous) previous.counts.forEach((c, i) => { if (inputs[i]) inputs[i].value = String(c); });
  return h("form", { class: "hand-count", "data-poll-id": poll.poll_id, onsubmit: async (/** @type {Event} */ e) => {
    e.preventDefault();
    const counts = inputs.map((i) => Number(i.value));
    if (counts.some((c) => !Number.isInteger(c) || c < 0)) {
      message.className = "form-message error";
      message.textContent = t("hand.whole_numbers");
      return;
    }
    submit.disabled = true;
    try {
      const ack = await proc.recordHandCount(poll.poll_id, counts);
      message.className = "form-message success";
      message.textContent = t("hand.recorded", { hands: ack.hand_count.hands, eligible: ack.hand_count.hand_eligible });
    } catch (err) {
      message.className = "form-message error";
      message.textContent = errorMessage(err, "hand");
    } finally {
      submit.disabled = false;
    }
  } },
  h("h4", {}, tx(placeKey === "main" ? "hand.title_main" : "hand.title_site", { site: placeKey })),
  h("p", { class: "hint" }, tx("hand.hint")),
  h("div", { class: "hand-grid" }, inputs.map((input, i) => h("div", { class: "field" }, h("label", { for: input.id }, optionLabel(poll.config, i)), input))),
  previous ? h("p", { class: "hint" }, tx("hand.previous", { hands: previous.hands, by: previous.entered_by })) : null,
  message, submit);
}

/**
 * Can `poll` take hand counts? (open, open ballot, single choice)
 * @param {Poll} poll
 */
export function takesHandCounts(poll) {
  return poll.state === "open" && poll.config.kind === "open" && poll.config.max_choices <= 1;
}

/**
 * The poll-creation form.
 * @param {Procedure} proc
 * @param {(poll: Poll) => void} created
 */
function pollForm(proc, created) {
  const motions = proc.state?.agenda.motions.filter((m) => m.position === proc.state?.agenda.current) ?? [];
  const motionSel = /** @type {HTMLSelectElement} */ (h("select", {},
    h("option", { value: "" }, t("poll.no_motion")),
    motions.map((m) => h("option", { value: String(m.id) }, m.text.slice(0, 80)))));
  const question = /** @type {HTMLInputElement} */ (h("input", { maxlength: "500", required: true }));
  const optionsSel = /** @type {HTMLSelectElement} */ (h("select", {},
    h("option", { value: "yes_no_abstain" }, t("poll.options.yes_no_abstain")),
    h("option", { value: "yes_no" }, t("poll.options.yes_no")),
    h("option", { value: "candidates" }, t("poll.options.candidates"))));
  const candidates = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: "4" }));
  const maxChoices = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", value: "1", inputmode: "numeric" }));
  const candidateBox = h("div", { class: "candidate-fields", hidden: true },
    field("poll-candidates", "poll.candidates", candidates, "poll.candidates_hint"),
    field("poll-max", "poll.max_choices", maxChoices));
  const kindSel = /** @type {HTMLSelectElement} */ (h("select", {},
    h("option", { value: "open" }, t("vote.kind.open")),
    h("option", { value: "secret" }, t("vote.kind.secret"))));
  const ruleSel = /** @type {HTMLSelectElement} */ (h("select", {},
    ["simple", "absolute", "two_thirds_cast", "two_thirds_present", "custom"].map((r) => h("option", { value: r }, t(`vote.rule.${r}`)))));
  const num = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", value: "3", inputmode: "numeric", id: "poll-num", class: "short" }));
  const den = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", value: "5", inputmode: "numeric", id: "poll-den", class: "short" }));
  const cmpSel = /** @type {HTMLSelectElement} */ (h("select", { id: "poll-cmp" },
    h("option", { value: "more_than" }, t("poll.more_than")), h("option", { value: "at_least" }, t("poll.at_least"))));
  const baseSel = /** @type {HTMLSelectElement} */ (h("select", { id: "poll-base" },
    ["votes_cast", "entitled", "present"].map((b) => h("option", { value: b }, t(`vote.base.${b}`)))));
  const customBox = h("fieldset", { class: "custom-rule", hidden: true },
    h("legend", {}, tx("poll.custom_rule")),
    h("div", { class: "inline-form" }, cmpSel, num, "/", den, baseSel));
  const abst = checkbox("poll-abst", "poll.abstentions_in_base");
  const change = checkbox("poll-change", "poll.allow_change");
  const minutes = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "0", step: "0.5", inputmode: "decimal", placeholder: t("poll.no_limit") }));
  const message = h("p", { class: "form-message", role: "alert" });
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", "data-action": "create-poll" }, tx("poll.create")));
  optionsSel.addEventListener("change", () => { candidateBox.hidden = optionsSel.value !== "candidates"; });
  ruleSel.addEventListener("change", () => { customBox.hidden = ruleSel.value !== "custom"; });
  motionSel.addEventListener("change", () => {
    const m = motions.find((x) => String(x.id) === motionSel.value);
    if (m && !question.value.trim()) question.value = m.text.slice(0, 500);
  });
  if (motions.length) {
    const last = motions[motions.length - 1];
    motionSel.value = String(last.id);
    question.value = last.text.slice(0, 500);
  }

  /** @param {SubmitEvent} e */
  async function onSubmit(e) {
    e.preventDefault();
    message.className = "form-message";
    message.textContent = "";
    /** @type {Record<string, any>} */
    const config = { question: question.value.trim(), kind: kindSel.value, abstentions_in_base: abst.input.checked, allow_change: change.input.checked };
    if (optionsSel.value === "candidates") {
      config.options = candidates.value.split("\n").map((x) => x.trim()).filter(Boolean);
      config.max_choices = Number(maxChoices.value) || 1;
      if (config.options.length < 2) {
        message.className = "form-message error";
        message.textContent = t("poll.need_candidates");
        return;
      }
    } else {
      config.options = optionsSel.value;
    }
    config.rule = ruleSel.value === "custom"
      ? { numerator: Number(num.value), denominator: Number(den.value), comparison: cmpSel.value, base: baseSel.value }
      : ruleSel.value;
    const limit = Number(minutes.value);
    if (minutes.value && limit > 0) config.time_limit_s = Math.round(limit * 60);
    if (!config.question) {
      message.className = "form-message error";
      message.textContent = t("poll.need_question");
      question.focus();
      return;
    }
    submit.disabled = true;
    try {
      const poll = await proc.createPoll(config, motionSel.value ? Number(motionSel.value) : null);
      created(poll);
    } catch (err) {
      message.className = "form-message error";
      message.textContent = errorMessage(err, "poll");
      submit.disabled = false;
    }
  }

  return h("form", { class: "poll-form", onsubmit: onSubmit },
    field("poll-motion", "poll.motion", motionSel),
    field("poll-question", "poll.question", question),
    field("poll-options", "poll.options", optionsSel),
    candidateBox,
    h("div", { class: "form-row" }, field("poll-kind", "poll.kind", kindSel), field("poll-rule", "poll.rule", ruleSel)),
    customBox,
    abst.element,
    change.element,
    field("poll-minutes", "poll.time_limit", minutes, "poll.time_limit_hint"),
    message,
    h("div", { class: "actions" }, submit));
}

/**
 * @param {Procedure} proc
 * @param {{role: string}} options
 */
export function createChairConsole(proc, { role }) {
  const isChair = role === "chair";
  const agendaBox = h("div", { class: "agenda-list" });
  const motionBox = h("div", { class: "motions" });
  const pollsBox = h("div", { class: "poll-list" });
  const formSlot = h("div", { class: "poll-form-slot" });
  const message = h("p", { class: "form-message", role: "alert" });
  const element = h("section", { class: "panel proc-panel chair-console", "aria-labelledby": "console-title" },
    h("h2", { id: "console-title" }, tx(isChair ? "console.title" : "console.title_secretary")),
    message,
    h("h3", {}, tx("agenda.title")), agendaBox,
    h("h3", {}, tx("motion.title")), motionBox,
    h("div", { class: "panel-head" }, h("h3", {}, tx("poll.title")),
      isChair ? h("button", { type: "button", class: "btn btn-small", "data-action": "new-poll", onclick: () => { showForm = !showForm; render(true); } }, tx("poll.new")) : null),
    formSlot, pollsBox);
  let showForm = false;
  /** @type {number | null} poll whose quorum override is being confirmed */
  let confirmOverride = null;
  /** @type {number | null} poll whose close is being confirmed */
  let confirmClose = null;
  let motionDraft = "";
  let sig = "";

  /**
   * @param {() => Promise<unknown>} action
   * @param {HTMLButtonElement} button
   */
  async function run(action, button) {
    if (await runAction(action, button, message, "poll")) render(true);
  }

  function renderAgenda() {
    const a = proc.state?.agenda;
    if (!a) return;
    replaceChildren(agendaBox, h("ol", { class: "agenda" }, a.items.map((item) => {
      const current = item.position === a.current;
      const b = isChair && !current
        ? /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small", "data-action": "start-item" }, tx("agenda.start")))
        : null;
      b?.addEventListener("click", () => run(() => proc.setAgendaItem(item.position), b));
      return h("li", { class: `agenda-item${current ? " current" : ""}`, "data-position": item.position, "aria-current": current ? "step" : null },
        h("span", {}, `${item.position}. ${item.title}`),
        current ? h("span", { class: "badge state-open" }, tx("agenda.now")) : b);
    })));
  }

  function renderMotions() {
    const a = proc.state?.agenda;
    if (!a) return;
    const mine = a.motions.filter((m) => m.position === a.current);
    const text = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "motion-text", rows: "2", maxlength: "5000", value: motionDraft }));
    text.addEventListener("input", () => { motionDraft = text.value; });
    const add = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-small", "data-action": "add-motion" }, tx("motion.add")));
    replaceChildren(motionBox,
      mine.length ? h("ul", { class: "motion-list" }, mine.map((m) => h("li", { "data-motion-id": m.id }, m.text))) : h("p", { class: "hint" }, tx(a.current === null ? "motion.no_item" : "motion.none")),
      a.current !== null
        ? h("form", { class: "motion-form", onsubmit: (/** @type {Event} */ e) => {
            e.preventDefault();
            if (!text.value.trim()) return;
            run(async () => { await proc.addMotion(text.value.trim()); motionDraft = ""; }, add);
          } }, h("label", { for: "motion-text" }, tx("motion.new")), text, add)
        : null);
  }

  /** @param {Poll} poll */
  function pollCard(poll) {
    const q = proc.state?.quorum;
    /** @type {(HTMLElement | null)[]} */
    const actions = [];
    if (isChair && poll.state === "draft") {
      if (confirmOverride === poll.poll_id) {
        const yes = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-danger", "data-action": "open-override" }, tx("poll.open_anyway")));
        yes.addEventListener("click", () => run(async () => { await proc.openPoll(poll.poll_id, true); confirmOverride = null; }, yes));
        actions.push(h("div", { class: "override", role: "alert" },
          h("p", {}, h("strong", {}, tx("quorum.not_quorate")), " ", tx("poll.override_warning", { present: q?.present ?? 0, entitled: q?.entitled ?? 0, required: q?.required ?? 0 })),
          h("div", { class: "actions" }, yes, h("button", { type: "button", class: "btn", onclick: () => { confirmOverride = null; render(true); } }, tx("app.cancel")))));
      } else {
        const open = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-primary", "data-action": "open-poll" }, tx("poll.open")));
        open.addEventListener("click", () => {
          if (proc.state && !proc.state.quorum.quorate) {
            confirmOverride = poll.poll_id;
            render(true);
            return;
          }
          run(async () => {
            try {
              await proc.openPoll(poll.poll_id);
            } catch (err) {
              // quorum lost between the click and the server's check: ask for the override
              if (/** @type {any} */ (err).code === "no_quorum") { confirmOverride = poll.poll_id; return; }
              throw err;
            }
          }, open);
        });
        actions.push(open);
      }
    }
    if (isChair && poll.state === "open") {
      if (confirmClose === poll.poll_id) {
        const yes = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-danger", "data-action": "close-confirm" }, tx("poll.close_confirm")));
        yes.addEventListener("click", () => run(async () => { await proc.closePoll(poll.poll_id); confirmClose = null; }, yes));
        actions.push(h("div", { class: "override" },
          h("p", {}, tx("poll.close_question", { voted: poll.voted, eligible: poll.eligible })),
          h("div", { class: "actions" }, yes, h("button", { type: "button", class: "btn", onclick: () => { confirmClose = null; render(true); } }, tx("app.cancel")))));
      } else {
        actions.push(h("button", { type: "button", class: "btn btn-danger", "data-action": "close-poll", onclick: () => { confirmClose = poll.poll_id; render(true); } }, tx("poll.close")));
      }
    }
    const motion = proc.motion(poll.poll_id);
    return h("article", { class: "poll-card", "data-poll-id": poll.poll_id, "data-state": poll.state },
      renderResults(poll),
      motion ? h("p", { class: "hint" }, tx("poll.on_motion"), " ", motion.text) : null,
      h("p", { class: "hint poll-config" },
        ruleText(poll),
        poll.config.time_limit_s ? [" · ", tx("poll.limit_minutes", { minutes: Math.round(poll.config.time_limit_s / 6) / 10 })] : null,
        poll.config.allow_change ? [" · ", tx("poll.allow_change")] : null,
        poll.quorum_override ? [" · ", h("strong", { class: "warn-text" }, tx("poll.overridden"))] : null,
        poll.state === "open" && poll.quorate === false ? [" · ", h("strong", { class: "warn-text" }, tx("quorum.lost"))] : null),
      actions.length ? h("div", { class: "actions poll-actions" }, actions) : null,
      takesHandCounts(poll) && (role === "chair" || role === "secretary") ? h("details", { class: "hand-details" },
        h("summary", {}, tx("hand.enter")), handCountForm(proc, poll, "main")) : null,
    );
  }

  /** @param {Poll} poll */
  function ruleText(poll) {
    return tx(`vote.rule.${poll.config.rule.kind ?? "custom"}`);
  }

  /**
   * Re-render. Tally ticks re-render only the results when nothing else changed, so
   * an open form or a focused button is not rebuilt under the chair's finger.
   * @param {boolean} [force]
   */
  function render(force = false) {
    const s = proc.state;
    if (!s) return;
    const newSig = JSON.stringify([s.agenda.current, s.agenda.motions.length, s.agenda.items.length,
      s.polls.map((p) => [p.poll_id, p.state, p.quorate, Boolean(p.result)]), s.quorum.quorate, showForm, confirmOverride, confirmClose]);
    if (force || newSig !== sig) {
      const structural = force || JSON.stringify(JSON.parse(newSig).slice(0, 3)) !== JSON.stringify(JSON.parse(sig || "[]").slice(0, 3));
      sig = newSig;
      renderAgenda();
      if (structural || !motionBox.contains(document.activeElement)) renderMotions();
      if (showForm && isChair) {
        if (!formSlot.firstChild || force && !formSlot.contains(document.activeElement)) {
          replaceChildren(formSlot, pollForm(proc, () => { showForm = false; render(true); }));
        }
      } else {
        replaceChildren(formSlot);
      }
    }
    const polls = [...s.polls].reverse();
    const existing = new Map([...pollsBox.querySelectorAll(".poll-card")].map((el) => [Number(/** @type {HTMLElement} */ (el).dataset.pollId), /** @type {HTMLElement} */ (el)]));
    const focusedCard = /** @type {HTMLElement | null} */ (document.activeElement?.closest?.(".poll-card") ?? null);
    /** @type {HTMLElement[]} */
    const cards = polls.map((p) => {
      const old = existing.get(p.poll_id);
      if (old && old === focusedCard && old.dataset.state === p.state && !force) {
        // keep the card the chair is working in; refresh only its chart
        const res = old.querySelector(".results");
        if (res) res.replaceWith(renderResults(p));
        return old;
      }
      return pollCard(p);
    });
    const sameOrder = cards.length === existing.size && cards.length === pollsBox.children.length
      && polls.every((p, i) => /** @type {HTMLElement} */ (pollsBox.children[i]).dataset.pollId === String(p.poll_id));
    if (sameOrder) {
      cards.forEach((card, i) => {
        const old = pollsBox.children[i];
        if (old !== card) old.replaceWith(card);
      });
    } else {
      replaceChildren(pollsBox, cards.length ? cards : h("p", { class: "hint" }, tx("poll.none")));
    }
  }

  render(true);
  return { element, render: () => render(false) };
}
