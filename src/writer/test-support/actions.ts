import type { SlimAction } from "../../payloads/types.js";

/** A wire-shaped slim action for tests. */
export function slim(description: string, timestampStart: number, index = 0): SlimAction {
  return {
    index,
    type: "click",
    title: description,
    description,
    canonical_url: "https://app.example/x",
    raw_url: "https://app.example/x?y=1",
    timestamp_start: timestampStart,
    timestamp_end: timestampStart + 0.5,
  };
}
