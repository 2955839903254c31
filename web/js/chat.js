// @ts-check
/**
 * The meeting chat panel: stored history, live messages, a send box.
 * @module chat
 */
import { tx, t, formatTime, onLanguageChange } from "./i18n.js";
import { h, replaceChildren } from "./dom.js";
import { errorMessage } from "./errors.js";

/** @typedef {import("./protocol.js").ChatMessage} ChatMessage */

const MAX_CHARS = 2000;

/**
 * @param {object} options
 * @param {string} options.myId
 * @param {(text: string) => Promise<ChatMessage>} options.send
 * @param {(message: ChatMessage) => void} [options.onIncoming] called for others' messages
 */
export function createChat({ myId, send, onIncoming }) {
  /** @type {Map<string, ChatMessage>} */
  const messages = new Map();
  const list = h("ol", { class: "chat-list", "aria-live": "polite", "aria-relevant": "additions" });
  const empty = h("p", { class: "empty" }, tx("chat.empty"));
  const input = /** @type {HTMLTextAreaElement} */ (h("textarea", {
    id: "chat-input", rows: 2, maxlength: MAX_CHARS, "data-i18n-placeholder": "chat.placeholder",
    placeholder: t("chat.placeholder"), autocomplete: "off",
  }));
  const sendButton = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary" }, tx("chat.send")));
  const message = h("p", { class: "form-message", role: "alert" });
  let connected = false;

  const form = /** @type {HTMLFormElement} */ (h("form", { class: "chat-form", onsubmit: onSubmit },
    h("label", { for: "chat-input", class: "visually-hidden" }, tx("chat.label")),
    input,
    sendButton,
  ));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  const element = h("div", { class: "chat" }, h("div", { class: "chat-scroll" }, empty, list), message, form);

  /** @param {ChatMessage} m */
  function row(m) {
    const mine = m.member_id === myId;
    return h("li", { class: `chat-msg${mine ? " mine" : ""}`, "data-id": m.id, "data-member-id": m.member_id },
      h("div", { class: "chat-meta" },
        h("span", { class: "chat-author" }, mine ? tx("chat.me") : m.full_name),
        h("time", { datetime: m.at }, formatTime(m.at, { timeStyle: "short" })),
      ),
      h("p", { class: "chat-text" }, m.text),
    );
  }

  function scrollToEnd() {
    const scroller = /** @type {HTMLElement} */ (element.querySelector(".chat-scroll"));
    scroller.scrollTop = scroller.scrollHeight;
  }

  function render() {
    empty.hidden = messages.size > 0;
    replaceChildren(list, [...messages.values()].map(row));
    scrollToEnd();
  }

  /**
   * @param {ChatMessage} m
   * @returns {boolean} whether it was new
   */
  function add(m) {
    const key = String(m.id);
    if (messages.has(key)) return false;
    const scroller = /** @type {HTMLElement} */ (element.querySelector(".chat-scroll"));
    const atEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    messages.set(key, m);
    empty.hidden = true;
    list.append(row(m));
    if (atEnd || m.member_id === myId) scrollToEnd();
    return true;
  }

  /** @param {SubmitEvent} event */
  async function onSubmit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (!connected) {
      message.className = "form-message error";
      message.textContent = t("chat.not_connected");
      return;
    }
    sendButton.disabled = true;
    message.textContent = "";
    message.className = "form-message";
    try {
      const sent = await send(text);
      add(sent);
      input.value = "";
    } catch (err) {
      message.className = "form-message error";
      message.textContent = errorMessage(err, "chat");
    } finally {
      sendButton.disabled = !connected;
      input.focus();
    }
  }

  const offLang = onLanguageChange(render);

  return {
    element,
    /** Replace the history (the join ack carries the stored messages). @param {ChatMessage[]} history */
    reset(history) {
      for (const m of history) messages.set(String(m.id), m);
      render();
    },
    /** A message posted by anyone. @param {ChatMessage} m */
    posted(m) {
      if (add(m) && m.member_id !== myId && onIncoming) onIncoming(m);
    },
    /** @param {boolean} value */
    setConnected(value) {
      connected = value;
      sendButton.disabled = !value;
    },
    destroy() {
      offLang();
    },
  };
}
