import { describe, it, expect } from "vitest";
import { actionsPayloadToText, slimActionToText } from "./text.js";

const a = { index: 3, type: "click", description: "Clicked Upgrade", canonical_url: "https://app.example.com/billing" };

describe("slimActionToText", () => {
  it("renders [index] type: description — url with a U+2014 em dash", () => {
    const text = slimActionToText(a);
    expect(text).toBe("[3] click: Clicked Upgrade \u2014 https://app.example.com/billing");
    expect(text).not.toContain("β");
  });

  it("passes non-ASCII text through unchanged", () => {
    expect(slimActionToText({ ...a, description: "点击 💳 مرحبا e\u0301" })).toBe(
      "[3] click: 点击 💳 مرحبا e\u0301 \u2014 https://app.example.com/billing",
    );
  });
});

describe("actionsPayloadToText", () => {
  it("puts a session line first, then one action per line, without a trailing newline", () => {
    expect(actionsPayloadToText({ session_id: "s-42", actions: [a, { ...a, index: 4, type: "submit" }] })).toBe(
      "Session s-42 \u2014 2 actions\n" +
        "[3] click: Clicked Upgrade \u2014 https://app.example.com/billing\n" +
        "[4] submit: Clicked Upgrade \u2014 https://app.example.com/billing",
    );
  });

  it("says unknown for a missing session and counts actions.length", () => {
    expect(actionsPayloadToText({ session_id: null, actions: [] })).toBe("Session unknown \u2014 0 actions");
    expect(actionsPayloadToText({ session_id: "", actions: [a] })).toBe(
      "Session unknown \u2014 1 actions\n[3] click: Clicked Upgrade \u2014 https://app.example.com/billing",
    );
  });
});
