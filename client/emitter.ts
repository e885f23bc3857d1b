/**
 * A minimal typed event emitter: `on(name, listener)` returns the function that removes the listener.
 * A throwing listener is reported (`reportError`) without breaking the client or other listeners.
 *
 * @module
 */

/** Receives one event's value. */
export type Listener<T> = (value: T) => void;

/** Emits the events of `Events` (a map from event name to value type). */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds `listener` for `name`; returns the function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, set = new Set());
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Calls every listener of `name` with `value`. */
  emit<K extends keyof Events>(name: K, value: Events[K]): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (error) {
        const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
        if (report) report(error);
        else console.error(error);
      }
    }
  }
}
