// @ts-check
/**
 * The group of the secret ballots and its wire encodings (docs/e2e-ballots.md §1, as
 * voting/e2e/group.py): ristretto255 (RFC 9496) points from @noble/curves, served by
 * meetingd from the npm lockfile (see the import map in index.html), scalars as bigint
 * in [0, ℓ), both as 64 lowercase hex digits on the wire; the errors with the server's
 * codes. Secrets are multiplied in constant time, public values in variable time.
 * @module e2e-group
 */

import { ristretto255 } from "@noble/curves/ed25519.js";

export const Point = ristretto255.Point;
/** @typedef {InstanceType<typeof Point>} RPoint */

export const ORDER = Point.Fn.ORDER;

/** An error with a stable code and the offending field, like the server's. */
export class E2EError extends Error {
  /** @param {string} code @param {string} message @param {string} field */
  constructor(code, message, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

// -- encodings ---------------------------------------------------------------------

/** @param {Uint8Array} bytes */
export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** @param {string} hex */
function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** @param {bigint} k */
export function scalarBytes(k) {
  let v = ((k % ORDER) + ORDER) % ORDER;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** @param {Uint8Array} bytes */
export function bytesToNumberLE(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** @param {bigint} k */
export const scalarHex = (k) => toHex(scalarBytes(k));
/** @param {RPoint} p */
export const pointHex = (p) => toHex(p.toBytes());

/**
 * Parse a point: 64 lowercase hex digits, canonical, not the identity unless allowed.
 * @param {unknown} text @param {string} field @param {boolean} [allowIdentity]
 * @returns {RPoint}
 */
export function decodePoint(text, field, allowIdentity = false) {
  if (typeof text !== "string" || !HEX64.test(text)) {
    throw new E2EError("non_canonical_point", `${field} must be 64 lowercase hex digits`, field);
  }
  let p;
  try {
    p = Point.fromBytes(fromHex(text));
  } catch {
    throw new E2EError("non_canonical_point", `${field} is not a canonical ristretto255 encoding`, field);
  }
  if (p.is0() && !allowIdentity) throw new E2EError("identity_point", `${field} is the identity`, field);
  return p;
}

/** @param {unknown} text @param {string} field @returns {bigint} */
export function decodeScalar(text, field) {
  if (typeof text !== "string" || !HEX64.test(text)) {
    throw new E2EError("scalar_out_of_range", `${field} must be 64 lowercase hex digits`, field);
  }
  const v = bytesToNumberLE(fromHex(text));
  if (v >= ORDER) throw new E2EError("scalar_out_of_range", `${field} is not below the group order`, field);
  return v;
}

/** A uniform non-zero scalar from 64 random bytes. */
export function randomScalar() {
  for (;;) {
    const k = bytesToNumberLE(crypto.getRandomValues(new Uint8Array(64))) % ORDER;
    if (k !== 0n) return k;
  }
}

/**
 * An object with exactly these keys (the wire's parsing rule: unknown or missing fields
 * are `invalid_input` naming the field).
 * @param {unknown} d @param {string[]} keys @param {string} field @returns {Record<string, unknown>}
 */
export function exact(d, keys, field) {
  if (typeof d !== "object" || d === null || Array.isArray(d)) {
    throw new E2EError("invalid_input", `${field} must be an object`, field);
  }
  const o = /** @type {Record<string, unknown>} */ (d);
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new E2EError("invalid_input", `unknown field ${field}.${k}`, `${field}.${k}`);
  }
  for (const k of keys) {
    if (!(k in o)) throw new E2EError("invalid_input", `missing field ${field}.${k}`, `${field}.${k}`);
  }
  return o;
}

// -- group operations ----------------------------------------------------------------

/** Constant-time k·P for secrets (k ≠ 0 mod ℓ); the identity for k ≡ 0. */
export function mulSecret(/** @type {bigint} */ k, /** @type {RPoint} */ p) {
  const s = ((k % ORDER) + ORDER) % ORDER;
  return s === 0n ? Point.ZERO : p.multiply(s);
}

/** Variable-time k·P for public values. */
export function mulPublic(/** @type {bigint} */ k, /** @type {RPoint} */ p) {
  return p.multiplyUnsafe(((k % ORDER) + ORDER) % ORDER);
}

/** m·B for a small plaintext m (public). @param {number} m */
export const small = (m) => (m === 0 ? Point.ZERO : Point.BASE.multiplyUnsafe(BigInt(m)));
