/** The live inbox page of the embedded destination: its model (the feed) and its routes. */
import type { AutoplayChatbotManager } from "../../manager/autoplay-chatbot-manager.js";
import type { InboxWriter } from "../inbox-writer.js";
import { InboxFeed, type InboxFeedOptions } from "./feed.js";
import { inboxPageRoutes, type InboxPage, type InboxPageOptions } from "./routes.js";

export { InboxFeed, type FeedFrame, type InboxSnapshot, type SessionView, type NoteView, type ConversationView, type DeadLetterView } from "./feed.js";
export { inboxPageRoutes, type InboxPage, type PageRoutes } from "./routes.js";

/** The page over an inbox writer and the manager that feeds it; `close()` ends open feeds. */
export function createInboxPage(
  writer: InboxWriter,
  manager: Pick<AutoplayChatbotManager, "getState" | "onChatbotEvent">,
  options: Partial<Omit<InboxFeedOptions, "writer" | "stateOf">> & Omit<InboxPageOptions, "feed"> = {},
): InboxPage {
  const feed = new InboxFeed({ ...options, writer, stateOf: async (id) => (await manager.getState(id))?.currentState ?? null });
  const page = inboxPageRoutes({ ...options, feed });
  return {
    routes: page.routes,
    close() {
      page.close();
      feed.close();
    },
  };
}
