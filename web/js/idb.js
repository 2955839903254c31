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
        const req = fn(db.transaction(storeName, mode).objectStore(storeName));
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
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
