/**
 * What a store remembers about each state object it loaded or saved (e.g. the revision it read),
 * kept beside the object and never persisted. Each store instance uses its own symbol. A clone
 * carries its original's tokens, so `state.clone()` saves exactly as the original would.
 * Internal; not exported from the package.
 */
const tokens = new WeakMap<object, Map<symbol, unknown>>();

/** The token `store` attached to `state`, if any. */
export function getStoreToken<T>(state: object, store: symbol): T | undefined {
  return tokens.get(state)?.get(store) as T | undefined;
}

/** Attaches (or replaces) `store`'s token on `state`. */
export function setStoreToken(state: object, store: symbol, token: unknown): void {
  let map = tokens.get(state);
  if (map === undefined) {
    map = new Map();
    tokens.set(state, map);
  }
  map.set(store, token);
}

/** Gives `to` the tokens of `from` (used by `clone()`). */
export function copyStoreTokens(from: object, to: object): void {
  const map = tokens.get(from);
  if (map !== undefined) tokens.set(to, new Map(map));
}
