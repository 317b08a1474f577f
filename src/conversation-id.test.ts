import { describe, expect, it } from "vitest";
import { checkConversationId, isValidConversationId } from "./conversation-id.js";
import { PayloadError } from "./errors.js";
import { createTestWriter } from "./testing/index.js";

describe("conversation ids", () => {
  it("accepts platform-shaped ids and refuses ids that could escape a URL path", () => {
    for (const ok of ["215468", "conv-1", "a.b", "Ticket_42", "x".repeat(256)]) expect(isValidConversationId(ok)).toBe(true);
    for (const bad of ["", ".", "..", "a/b", "../x", "a\\b", "a?b", "a#b", "%2e%2e", "a\nb", "x".repeat(257), 42, null]) {
      expect(() => checkConversationId(bad)).toThrow(PayloadError);
    }
  });

  it("are checked where they enter the writer: onSessionLinked and writeActions", async () => {
    const writer = createTestWriter();
    await expect(writer.onSessionLinked("s", "..")).rejects.toThrow(/conversation_id must not be/);
    await expect(writer.writeActions("a/b", "s", [{ description: "x", timestamp_start: 1 }])).rejects.toBeInstanceOf(PayloadError);
    expect(writer.calls).toHaveLength(0);
    await writer.close();
  });
});
