/**
 * Bytes of request bodies buffered across all requests now, bounded by `limit`: a request that
 * would go beyond is answered 503 instead of being buffered, so unauthenticated uploads cannot
 * grow the process without bound.
 */
export class ByteBudget {
  #used = 0;

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new TypeError(`Expected \`limit\` to be a number > 0, got ${String(limit)}`);
  }

  /** Bytes taken now. */
  get used(): number {
    return this.#used;
  }

  /** Whether `bytes` more would fit now (nothing is taken). */
  fits(bytes: number): boolean {
    return this.#used + bytes <= this.limit;
  }

  /** Takes `bytes` if they fit; false (nothing taken) otherwise. */
  take(bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
