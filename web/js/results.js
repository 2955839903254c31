// @ts-check
/**
 * Live results of one poll as a bar chart, with the rule applied and the outcome once
 * closed. Used by the member panel, the chair console and the main-room display
 * (`large`). Rendering only: the caller passes the poll as the procedure model has it.
 * @module results
 */
import { t, tx } from "./i18n.js";
import { h } from "./dom.js";

/** @typedef {import("./procedure.js").Poll} Poll */
/** @typedef {import("./procedure.js").PollConfig} PollConfig */

const MOTION_OPTIONS = new Set(["yes", "no", "abstain"]);

/**
 * The label of option `i` in the member's language (motion options are translated,
 * candidates' names are shown as given).
 * @param {PollConfig} config
 * @param {number} i
 */
export function optionLabel(config, i) {
  const name = config.options[i] ?? String(i);
  return config.type === "motion" && MOTION_OPTIONS.has(name) ? t(`vote.option.${name}`) : name;
}

/**
 * The majority rule in words, in the member's language.
 * @param {Record<string, any>} rule the normalised rule (`PollConfig.rule`)
 */
export function ruleText(rule) {
  const kind = String(rule.kind ?? "custom");
  const base = t(`vote.base.${rule.base ?? "votes_cast"}`);
  const fraction = `${rule.numerator}/${rule.denominator}`;
  const comparison = t(`vote.comparison.${rule.comparison ?? "more_than"}`, { fraction, base });
  const abst = rule.base === "votes_cast" ? t(rule.abstentions_in_base ? "vote.abstentions_counted" : "vote.abstentions_not_counted") : "";
  return `${t(`vote.rule.${kind}`)}: ${comparison}${abst ? ` (${abst})` : ""}`;
}

/**
 * Set a width in per cent through the CSSOM (the page's CSP refuses inline `style`
 * attributes).
 * @param {HTMLElement} el
 * @param {number} pct
 */
function sized(el, pct) {
  el.style.width = `${Math.max(0, Math.min(100, pct))}%`;
  return el;
}

/**
 * "x of y have voted" with a progress bar.
 * @param {Poll} poll
 */
function turnout(poll) {
  const eligible = Math.max(poll.eligible || 0, poll.voted || 0);
  const pct = eligible ? Math.round((100 * poll.voted) / eligible) : 0;
  return h("div", { class: "turnout", "data-voted": poll.voted, "data-eligible": eligible },
    h("p", { class: "turnout-text" }, tx("vote.voted_of", { voted: poll.voted, eligible })),
    h("div", { class: "turnout-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(eligible), "aria-valuenow": String(poll.voted), "aria-label": t("vote.turnout") },
      sized(h("span"), pct)),
  );
}

/**
 * @param {Poll} poll
 * @param {{large?: boolean, showQuestion?: boolean}} [options]
 * @returns {HTMLElement}
 */
export function renderResults(poll, { large = false, showQuestion = true } = {}) {
  const config = poll.config;
  const tally = poll.result?.tally ?? poll.tally;
  const secretHidden = config.kind === "secret" && poll.state !== "closed";
  const box = h("div", {
    class: `results${large ? " results-large" : ""}`,
    "data-poll-id": poll.poll_id,
    "data-state": poll.state,
    "data-kind": config.kind,
  });
  if (showQuestion) {
    box.append(h("div", { class: "results-head" },
      h(large ? "h2" : "h3", { class: "results-question" }, config.question),
      h("span", { class: `badge poll-state poll-${poll.state}` }, tx(`vote.state.${poll.state}`)),
      h("span", { class: "badge poll-kind" }, tx(`vote.kind.${config.kind}`)),
    ));
  }
  if (poll.state !== "draft") box.append(turnout(poll));
  if (secretHidden) {
    box.append(h("p", { class: "results-sealed" }, tx("vote.secret_until_close")));
  } else if (config.kind === "secret" && !poll.result) {
    box.append(h("p", { class: "results-sealed results-decrypting" }, tx("vote.decrypting")));
  } else if (tally) {
    box.append(bars(poll, tally, large));
  }
  if (poll.result) box.append(outcome(poll));
  return box;
}

/**
 * @param {Poll} poll
 * @param {import("./procedure.js").Tally} tally
 * @param {boolean} large
 */
function bars(poll, tally, large) {
  const total = tally.counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...tally.counts);
  const hasHand = (tally.hand?.ballots ?? 0) > 0 || poll.hand_counts.length > 0;
  const winners = new Set(poll.result?.outcome?.type === "election" ? poll.result.outcome.elected : []);
  return h("ol", { class: "bars", "aria-label": t("vote.results") },
    tally.options.map((_, i) => {
      const count = tally.counts[i] ?? 0;
      const pct = total ? Math.round((100 * count) / total) : 0;
      const name = poll.config.options[i];
      return h("li", { class: `bar-row${winners.has(name) ? " bar-elected" : ""}`, "data-option": name, "data-count": count },
        h("span", { class: "bar-label" }, optionLabel(poll.config, i)),
        h("span", { class: "bar-track", "aria-hidden": "true" },
          sized(h("span", { class: `bar-fill bar-${poll.config.type === "motion" ? name : "candidate"}` }), (100 * count) / max)),
        h("span", { class: "bar-value" }, h("strong", { class: "bar-count" }, String(count)), large ? null : " ", h("span", { class: "bar-pct" }, `${pct}%`)),
        hasHand
          ? h("span", { class: "bar-parts" }, tx("vote.parts", { electronic: tally.electronic.counts[i] ?? 0, hand: tally.hand.counts[i] ?? 0 }))
          : null,
      );
    }),
  );
}

/** @param {Poll} poll */
function outcome(poll) {
  const o = /** @type {Record<string, any>} */ (poll.result?.outcome ?? {});
  const rule = ruleText(o.rule ?? poll.config.rule);
  if (o.type === "election") {
    const elected = (o.elected ?? []).join(", ");
    const tied = (o.tied ?? []).join(", ");
    return h("div", { class: "outcome outcome-election", "data-outcome": "election" },
      h("p", { class: "outcome-decision" }, elected ? tx("vote.elected", { names: elected }) : tx("vote.nobody_elected")),
      tied ? h("p", { class: "outcome-tied" }, tx("vote.tied", { names: tied, seats: o.tied_seats ?? 0 })) : null,
      o.unfilled_seats ? h("p", {}, tx("vote.unfilled", { count: o.unfilled_seats })) : null,
      h("p", { class: "outcome-rule" }, rule, " — ", tx("vote.required_of", { required: o.required, base: o.base })),
    );
  }
  const adopted = o.decision === "adopted";
  return h("div", { class: `outcome outcome-${adopted ? "adopted" : "rejected"}`, "data-outcome": o.decision ?? "" },
    h("p", { class: "outcome-decision" }, tx(adopted ? "vote.adopted" : "vote.rejected")),
    h("p", { class: "outcome-numbers" }, tx("vote.numbers", { in_favour: o.in_favour ?? 0, against: o.against ?? 0, abstentions: o.abstentions ?? 0 })),
    h("p", { class: "outcome-rule" }, rule, " — ", tx("vote.required_of", { required: o.required ?? 0, base: o.base ?? 0 })),
  );
}
