// @ts-check
/**
 * Byte-exact hash inputs of every Fiat–Shamir challenge and of the tracker
 * (docs/e2e-ballots.md §2), written field by field exactly as voting/e2e/transcript.py.
 * @module e2e-transcript
 */

import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { ORDER, bytesToNumberLE, scalarBytes, toHex } from "./e2e-group.js";

/** @typedef {import("./e2e-group.js").RPoint} RPoint */

export const DOMAIN = "meetingd/e2e/v1";

/** Hash inputs, written field by field exactly as voting/e2e/transcript.py does. */
export class Transcript {
  /** @param {string} label */
  constructor(label) {
    /** @type {Uint8Array[]} */
    this.parts = [];
    this.text(DOMAIN).text(label);
  }
  /** @param {string} value */
  text(value) {
    const data = new TextEncoder().encode(value);
    this.number(data.length);
    this.parts.push(data);
    return this;
  }
  /** @param {number} value */
  number(value) {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) throw new RangeError("32-bit numbers only");
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value, false);
    this.parts.push(out);
    return this;
  }
  /** @param {RPoint} p */
  point(p) {
    this.parts.push(p.toBytes());
    return this;
  }
  /** @param {bigint} k */
  scalar(k) {
    this.parts.push(scalarBytes(k));
    return this;
  }
  copy() {
    const t = Object.create(Transcript.prototype);
    t.parts = [...this.parts];
    return /** @type {Transcript} */ (t);
  }
  data() {
    let n = 0;
    for (const p of this.parts) n += p.length;
    const out = new Uint8Array(n);
    let i = 0;
    for (const p of this.parts) {
      out.set(p, i);
      i += p.length;
    }
    return out;
  }
  challenge() {
    return bytesToNumberLE(sha512(this.data())) % ORDER;
  }
  sha256Hex() {
    return toHex(sha256(this.data()));
  }
}
