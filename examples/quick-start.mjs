// Quick start, in plain JavaScript: a platform writer is a subclass with two methods, and the
// manager does the rest. Run with `npm start` (it builds first). CI runs this file.
import { AutoplayChatbotManager, BaseChatbotWriter } from "autoplay-chatbot-bridge";

/** A "platform" that prints notes instead of calling Intercom or Zendesk. */
class ConsoleWriter extends BaseChatbotWriter {
  notes = [];

  async postNote(conversationId, body) {
    this.notes.push({ conversationId, body });
    console.log(`--- note in ${conversationId} ---\n${body}\n`);
    return `note-${this.notes.length}`;
  }

  async redactPart() {}
}

const now = Math.floor(Date.now() / 1000);
const action = (description, secondsAgo) => ({
  index: 0,
  type: "click",
  title: description,
  description,
  canonical_url: "https://app.example.com/billing",
  raw_url: "https://app.example.com/billing?tab=plans",
  timestamp_start: now - secondsAgo,
  timestamp_end: now - secondsAgo + 0.5,
});
const payload = (actions) => ({ type: "actions", product_id: "demo", session_id: "ph-123", user_id: "u-9", actions });

const writer = new ConsoleWriter({ productId: "demo", postLinkDebounceMs: 150 });
const manager = new AutoplayChatbotManager({ writer });

// 1. The user clicks around before opening the chat: buffered, nothing posted yet.
await manager.onActions(payload([action("Opened Billing", 40), action("Clicked Upgrade", 39)]));
await manager.onActions(payload([action("Submitted card form", 30)]));

// 2. The chatbot webhook says the user opened conversation conv-1: one flush note, binned.
await manager.onChatbotEvent("ph-123", "conv-1");

// 3. More clicks after the link: coalesced into one note once the user pauses for 150 ms.
await manager.onActions(payload([action("Clicked Retry payment", 2)]));
await manager.onActions(payload([action("Opened Help", 1)]));

await manager.close(); // drains what is pending, bounded
if (writer.notes.length !== 2) {
  console.error(`expected 2 notes, got ${writer.notes.length}`);
  process.exit(1);
}
console.log(`delivered ${writer.notes.length} notes; part ids: ${(await writer.getPartIds("ph-123")).join(", ")}`);
