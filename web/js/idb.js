// @ts-check
/**
 * A small key-value store over one IndexedDB object store (DOM-free): what this browser
 * keeps of its own secrets — trustees' key shares (e2e-client.js) and officers'
 * cosigning keys (officer-key.js). Values are structured clones, so a non-extractable
 * CryptoKey is stored as itself.
 * @module idb
 */

/**
 * @param {string} dbName
 * @param {string} storeName
 */
export function keyValueStore(dbName, storeName) {
  /** @returns {Promise<IDBDatabase>} */
  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(dbName, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(storeName);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  /**
   * @param {"readonly" | "readwrite"} mode
   * @param {(s: IDBObjectStore) => IDBRequest} fn
   * @returns {Promise<any>}
   */
  async function run(mode, fn) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        // settled when the transaction commits, not when the request succeeds: a write that
        // is aborted at commit (quota) must not look stored (it may be the only key copy)
        const tx = db.transaction(storeName, mode);
        const req = fn(tx.objectStore(storeName));
        tx.oncomplete = () => resolve(req.result);
        tx.onabort = () => reject(tx.error || req.error || new Error("IndexedDB transaction aborted"));
        tx.onerror = () => reject(tx.error || req.error);
      });
    } finally {
      db.close();
    }
  }

  return {
    /** @param {string} key @returns {Promise<any>} the value, or undefined */
    get: (key) => run("readonly", (s) => s.get(key)),
    /** @param {string} key @param {unknown} value */
    put: (key, value) => run("readwrite", (s) => s.put(value, key)),
    /** @param {string} key */
    delete: (key) => run("readwrite", (s) => s.delete(key)),
  };
}
