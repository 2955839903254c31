// @ts-check
/**
 * An officer's Ed25519 cosigning key, made and kept on this device (DOM-free).
 *
 * The key is created by WebCrypto (`Ed25519`, non-extractable) and stored as a CryptoKey
 * in this browser's IndexedDB; where WebCrypto has no Ed25519, `@noble/curves` makes it
 * (then the 32-byte seed is what IndexedDB holds). The server only ever receives the
 * public key, as a signed-note verifier key `name+keyid+base64(0x04||pub)`, and the
 * signature lines this module makes: C2SP tlog-cosignature/v1 over a checkpoint, the
 * time taken from this device's clock (the same bytes as recorder/cosignature.py).
 *
 * Optional backup file (docs/minutes-format.md, "Officer key backup file"): the key is
 * generated extractable once, its PKCS#8 is sealed with AES-256-GCM under a key derived
 * from a passphrase by PBKDF2-SHA-256 (additional data: the verifier key string), and the
 * key is re-imported non-extractable; nothing of the passphrase or the key leaves the page
 * except the file the officer saves.
 * @module officer-key
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { keyValueStore } from "./idb.js";

export const BACKUP_FORMAT = "meetingd-officer-key-backup/v1";
export const PBKDF2_ITERATIONS = 600_000;
export const MIN_PASSPHRASE = 10;
const SIG_COSIGNATURE_V1 = 0x04;
// PKCS#8 PrivateKeyInfo of an Ed25519 key (RFC 8410): this prefix, then the 32-byte seed.
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/**
 * @typedef {object} StoredKey what IndexedDB holds, under the key's name
 * @property {string} name signed-note key name, e.g. `meetingd.local/minutes/member/C1-CHAIR`
 * @property {"webcrypto" | "noble"} engine
 * @property {Uint8Array} publicKey raw 32 bytes
 * @property {CryptoKey} [privateKey] WebCrypto, non-extractable
 * @property {Uint8Array} [seed] only when made by the noble fallback
 * @property {string} created_at
 */

/** An error with a stable code, shown through the i18n catalog (`officer_key.error.<code>`). */
export class KeyError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// -- encodings -------------------------------------------------------------------------

const utf8 = new TextEncoder();

/** @param {Uint8Array} bytes */
export function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {string} text */
export function fromBase64(text) {
  const s = atob(text);
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** @param {Uint8Array} bytes */
function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {...Uint8Array} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** WebCrypto's typings want an ArrayBuffer-backed view; ours always are. @param {Uint8Array} b */
const ab = (b) => /** @type {Uint8Array<ArrayBuffer>} */ (b);

/** @param {Uint8Array} bytes */
async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ab(bytes)));
}

/** The signed-note key ID: SHA-256(name || "\n" || 0x04 || public key)[:4]. @param {string} name @param {Uint8Array} pub */
export async function keyId(name, pub) {
  return (await sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, SIG_COSIGNATURE_V1), pub))).slice(0, 4);
}

/** `name+keyid_hex+base64(0x04||pub)`. @param {string} name @param {Uint8Array} pub */
export async function verifierKey(name, pub) {
  return `${name}+${toHex(await keyId(name, pub))}+${toBase64(concat(Uint8Array.of(SIG_COSIGNATURE_V1), pub))}`;
}

/** SHA-256 of the raw public key, hex (as meetingd prints it). @param {Uint8Array} pub */
export async function fingerprint(pub) {
  return toHex(await sha256(pub));
}

// -- storage ---------------------------------------------------------------------------

const store = keyValueStore("meetingd-officer-keys", "keys");

/** @param {string} name @returns {Promise<StoredKey | null>} */
export async function loadKey(name) {
  return (await store.get(name)) ?? null;
}

/** @param {StoredKey} key */
async function saveKey(key) {
  await store.put(key.name, key);
}

/** @param {string} name */
export async function forgetKey(name) {
  await store.delete(name);
}

// -- making keys -----------------------------------------------------------------------

let webCryptoEd25519 = /** @type {boolean | null} */ (null);

/** Whether this browser's WebCrypto does Ed25519 (Chromium 137+, Firefox 129+, Safari 17+). */
export async function hasWebCryptoEd25519() {
  if (webCryptoEd25519 === null) {
    try {
      await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      webCryptoEd25519 = true;
    } catch {
      webCryptoEd25519 = false;
    }
  }
  return webCryptoEd25519;
}

/** @param {Uint8Array} pkcs8 */
function seedOf(pkcs8) {
  if (pkcs8.length !== 48 || PKCS8_PREFIX.some((b, i) => pkcs8[i] !== b)) {
    throw new KeyError("backup_corrupt", "the backup does not hold an Ed25519 key");
  }
  return pkcs8.slice(16);
}

/**
 * Make a StoredKey from a PKCS#8 Ed25519 key: WebCrypto non-extractable where it can.
 * @param {string} name @param {Uint8Array} pkcs8 @param {Uint8Array} pub @param {"webcrypto" | "noble"} engine
 * @returns {Promise<StoredKey>}
 */
async function importPkcs8(name, pkcs8, pub, engine) {
  const created_at = new Date().toISOString();
  if (engine === "webcrypto") {
    const privateKey = await crypto.subtle.importKey("pkcs8", ab(pkcs8), { name: "Ed25519" }, false, ["sign"]);
    return { name, engine, publicKey: pub, privateKey, created_at };
  }
  return { name, engine, publicKey: pub, seed: seedOf(pkcs8), created_at };
}

/**
 * Create this officer's key on this device and keep it in IndexedDB (replacing any there).
 * With `backupPassphrase`, also return the sealed backup file's text.
 * @param {string} name
 * @param {{backupPassphrase?: string | null, engine?: "webcrypto" | "noble"}} [options]
 * @returns {Promise<{key: StoredKey, verifierKey: string, fingerprint: string, backup: string | null}>}
 */
export async function createKey(name, options = {}) {
  const passphrase = options.backupPassphrase ?? null;
  if (passphrase !== null && passphrase.length < MIN_PASSPHRASE) {
    throw new KeyError("passphrase_too_short", `the passphrase needs ${MIN_PASSPHRASE} characters or more`);
  }
  const engine = options.engine ?? ((await hasWebCryptoEd25519()) ? "webcrypto" : "noble");
  /** @type {StoredKey} */
  let key;
  let backup = null;
  if (engine === "webcrypto") {
    const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "Ed25519" }, passphrase !== null, ["sign", "verify"]));
    const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    if (passphrase !== null) {
      // extractable this once: seal it into the backup, then keep only a non-extractable copy
      const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
      try {
        backup = await sealBackup(name, pkcs8, pub, passphrase);
        key = await importPkcs8(name, pkcs8, pub, "webcrypto");
      } finally {
        pkcs8.fill(0);
      }
    } else {
      key = { name, engine, publicKey: pub, privateKey: pair.privateKey, created_at: new Date().toISOString() };
    }
  } else {
    const seed = ed25519.utils.randomSecretKey();
    const pub = ed25519.getPublicKey(seed);
    if (passphrase !== null) backup = await sealBackup(name, concat(PKCS8_PREFIX, seed), pub, passphrase);
    key = { name, engine, publicKey: pub, seed, created_at: new Date().toISOString() };
  }
  await saveKey(key);
  return { key, verifierKey: await verifierKey(name, key.publicKey), fingerprint: await fingerprint(key.publicKey), backup };
}

// -- signing ---------------------------------------------------------------------------

/** @param {StoredKey} key @param {Uint8Array} message */
async function sign(key, message) {
  if (key.privateKey) return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, ab(message)));
  if (key.seed) return ed25519.sign(message, key.seed);
  throw new KeyError("no_private_key", "this device holds no private key for it");
}

/**
 * This officer's signature over a secret-ballot key statement (docs/e2e-ballots.md §3d),
 * base64. The text starts "meetingd e2e key statement v1", never "cosignature/v1", so it
 * cannot stand for a cosignature.
 * @param {StoredKey} key @param {string} text
 */
export async function signStatement(key, text) {
  if (!text.startsWith("meetingd e2e key statement v1\n")) throw new KeyError("bad_statement", "not a key statement");
  return toBase64(await sign(key, utf8.encode(text)));
}

/**
 * Whether `signature` (base64) is the Ed25519 signature of `text` under the key of a
 * verifier key string `name+keyid+base64(0x04||pub)`; the public key's fingerprint.
 * @param {string} verifierKeyText @param {string} text @param {string} signature
 * @returns {{name: string, fingerprint: Promise<string>, valid: boolean}}
 */
export function verifyStatement(verifierKeyText, text, signature) {
  // name+keyid+base64: the base64 may itself hold "+", the name and key id never do
  const first = verifierKeyText.indexOf("+");
  const second = first < 0 ? -1 : verifierKeyText.indexOf("+", first + 1);
  const parts = second < 0 ? [verifierKeyText] : [verifierKeyText.slice(0, first), verifierKeyText.slice(first + 1, second), verifierKeyText.slice(second + 1)];
  let raw = new Uint8Array();
  try { if (parts.length === 3) raw = fromBase64(parts[2]); } catch { raw = new Uint8Array(); }
  if (raw.length !== 33 || raw[0] !== SIG_COSIGNATURE_V1) return { name: parts[0] ?? "", fingerprint: Promise.resolve(""), valid: false };
  const pub = raw.slice(1);
  let valid = false;
  try { valid = ed25519.verify(fromBase64(signature), utf8.encode(text), pub); } catch { valid = false; }
  return { name: parts[0], fingerprint: fingerprint(pub), valid };
}

/**
 * The C2SP tlog-cosignature/v1 signature line over a checkpoint's text:
 * `— <name> base64(keyid || timestamp (8 bytes, big-endian) || Ed25519 signature)`, the
 * signature over `cosignature/v1\ntime <timestamp>\n<checkpoint text>`.
 * @param {StoredKey} key
 * @param {string} checkpointText the note text, ending in a newline
 * @param {number} [timestamp] POSIX seconds; this device's clock by default
 */
export async function cosignLine(key, checkpointText, timestamp = Math.floor(Date.now() / 1000)) {
  if (!checkpointText.endsWith("\n")) throw new KeyError("bad_checkpoint", "a checkpoint text ends in a newline");
  const message = utf8.encode(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`);
  const signature = await sign(key, message);
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(timestamp));
  return `\u2014 ${key.name} ${toBase64(concat(await keyId(key.name, key.publicKey), time, signature))}\n`;
}

// -- backup file -----------------------------------------------------------------------

/** @param {string} passphrase @param {Uint8Array} salt @param {number} iterations */
async function wrappingKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", utf8.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: ab(salt), iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * @param {string} name @param {Uint8Array} pkcs8 @param {Uint8Array} pub @param {string} passphrase
 * @returns {Promise<string>} the backup file's JSON text
 */
async function sealBackup(name, pkcs8, pub, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const vkey = await verifierKey(name, pub);
  const aes = await wrappingKey(passphrase, salt, PBKDF2_ITERATIONS);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(vkey) }, aes, ab(pkcs8)));
  const doc = {
    format: BACKUP_FORMAT,
    verifier_key: vkey,
    fingerprint: await fingerprint(pub),
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: PBKDF2_ITERATIONS, salt: toBase64(salt) },
    cipher: { name: "AES-GCM", iv: toBase64(iv) },
    ciphertext: toBase64(sealed),
    created_at: new Date().toISOString(),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

/** @param {unknown} v @param {string} what */
function str(v, what) {
  if (typeof v !== "string" || !v) throw new KeyError("backup_malformed", `the backup file has no ${what}`);
  return v;
}

/** @param {unknown} v @param {string} what */
function b64Field(v, what) {
  try {
    return fromBase64(str(v, what));
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError("backup_malformed", `the backup file's ${what} is not base64`);
  }
}

/**
 * Restore a backup file onto this device (non-extractable where WebCrypto can).
 * @param {string} text the file's content
 * @param {string} passphrase
 * @returns {Promise<{key: StoredKey, verifierKey: string, fingerprint: string}>}
 */
export async function restoreBackup(text, passphrase) {
  /** @type {any} */
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeyError("backup_malformed", "this is not a key backup file");
  }
  if (!doc || doc.format !== BACKUP_FORMAT) throw new KeyError("backup_malformed", "this is not a meetingd key backup file");
  const vkey = str(doc.verifier_key, "verifier key");
  // name+keyid+base64: split at the first two "+" only (base64 may contain "+")
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) throw new KeyError("backup_malformed", "the backup's verifier key is not name+id+key");
  const name = vkey.slice(0, first);
  /** @type {Uint8Array} */
  let raw;
  try {
    raw = fromBase64(vkey.slice(second + 1));
  } catch {
    throw new KeyError("backup_malformed", "the backup's public key is not base64");
  }
  if (raw.length !== 33 || raw[0] !== SIG_COSIGNATURE_V1) throw new KeyError("backup_malformed", "the backup's verifier key is not a cosignature key");
  const pub = raw.slice(1);
  if ((await verifierKey(name, pub)) !== vkey) throw new KeyError("backup_malformed", "the backup's verifier key does not check");
  const kdf = doc.kdf ?? {};
  if (kdf.name !== "PBKDF2" || kdf.hash !== "SHA-256" || !Number.isInteger(kdf.iterations) || kdf.iterations < 100_000 || kdf.iterations > 10_000_000) {
    throw new KeyError("backup_malformed", "the backup's key derivation is not one meetingd writes");
  }
  const aes = await wrappingKey(passphrase, b64Field(kdf.salt, "salt"), kdf.iterations);
  const iv = b64Field(doc.cipher?.iv, "iv");
  const sealed = b64Field(doc.ciphertext, "ciphertext");
  if (doc.cipher?.name !== "AES-GCM" || iv.length !== 12) throw new KeyError("backup_malformed", "the backup's cipher is not one meetingd writes");
  /** @type {Uint8Array} */
  let pkcs8;
  try {
    pkcs8 = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(vkey) }, aes, sealed));
  } catch {
    throw new KeyError("wrong_passphrase", "wrong passphrase, or the file was altered");
  }
  try {
    const seed = seedOf(pkcs8);
    if (toHex(ed25519.getPublicKey(seed)) !== toHex(pub)) throw new KeyError("backup_corrupt", "the backup's key is not its public key");
    const key = await importPkcs8(name, pkcs8, pub, (await hasWebCryptoEd25519()) ? "webcrypto" : "noble");
    if (key.engine === "webcrypto") seed.fill(0);
    await saveKey(key);
    return { key, verifierKey: vkey, fingerprint: await fingerprint(pub) };
  } finally {
    pkcs8.fill(0);
  }
}

/** This device's key under `name`, with its verifier key and fingerprint, or null. @param {string} name */
export async function describeKey(name) {
  const key = await loadKey(name);
  if (!key) return null;
  return { key, verifierKey: await verifierKey(name, key.publicKey), fingerprint: await fingerprint(key.publicKey) };
}
