/**
 * One timer per add-on answered with 202. Heroku removes an add-on that is not marked provisioned
 * within 12 hours (contract §2); the timers are unref'd so a forgotten one never holds a test open.
 */
export class ProvisionDeadlines {
  #timers = new Map<string, NodeJS.Timeout>();

  /** Starts the add-on's timer unless one is already running. */
  start(addonId: string, ms: number, onExpire: () => void): void {
    if (this.#timers.has(addonId)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(addonId);
      onExpire();
    }, ms);
    timer.unref();
    this.#timers.set(addonId, timer);
  }

  /** Stops the add-on's timer (it was provisioned or is gone). */
  clear(addonId: string): void {
    const timer = this.#timers.get(addonId);
    if (timer) clearTimeout(timer);
    this.#timers.delete(addonId);
  }

  /** Stops every timer (simulator shutdown). */
  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
