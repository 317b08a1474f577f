import { describe, expect, it } from "vitest";
import { hasUnredactedText, isClosedTicketAnswer, parseZendeskPartId, redactedHtmlOf, wrapForRedaction, zendeskPartId } from "./zendesk-redaction.js";

describe("wrapForRedaction", () => {
  it("wraps every piece of text, keeps the markup, and marks links and images", () => {
    const html = '<div class="zd-comment" dir="auto">session_id: s<br><br>[1] Opened <a href="https://x.test/?c=4242" rel="noreferrer">https://x.test/?c=4242</a> &amp; <img src="y.png"></div>';
    expect(wrapForRedaction(html)).toBe(
      '<div class="zd-comment" dir="auto"><redact>session_id: s</redact><br><br><redact>[1] Opened </redact><a redact href="https://x.test/?c=4242" rel="noreferrer"><redact>https://x.test/?c=4242</redact></a><redact> &amp; </redact><img redact src="y.png"></div>',
    );
  });

  it("leaves text that is already ▇ alone, so a redacted comment needs no second request", () => {
    const done = '<div class="zd-comment">▇▇▇ ▇▇<br>&nbsp;<a redact>▇▇</a></div>';
    expect(wrapForRedaction(done)).not.toContain("<redact>");
    expect(hasUnredactedText(done)).toBe(false);
    expect(hasUnredactedText('<div class="zd-comment">▇▇▇ x</div>')).toBe(true);
  });
});

describe("Zendesk part ids", () => {
  it("carry the ticket and the comment; a bare comment id takes the caller's ticket", () => {
    expect(zendeskPartId("123", "5001")).toBe("123:5001");
    expect(parseZendeskPartId("123:5001", "9")).toEqual({ ticketId: "123", commentId: "5001" });
    expect(parseZendeskPartId("5001", "9")).toEqual({ ticketId: "9", commentId: "5001" });
    expect(parseZendeskPartId("a:b:5001", "9")).toEqual({ ticketId: "a:b", commentId: "5001" });
    expect(parseZendeskPartId("123:x", "9")).toBeUndefined();
    expect(parseZendeskPartId(":5001", "9")).toBeUndefined();
  });
});

describe("isClosedTicketAnswer", () => {
  it("recognises the 422 for a closed ticket in its known variants, and nothing else", () => {
    const detail = (key: string, entry: object) => ({ error: "RecordInvalid", description: "Record validation errors", details: { [key]: [entry] } });
    expect(isClosedTicketAnswer(422, detail("status", { description: "Status: closed prevents ticket update" }))).toBe(true);
    expect(isClosedTicketAnswer(422, detail("base", { description: "Status: closed prevents ticket update" }))).toBe(true);
    expect(isClosedTicketAnswer(422, detail("status", { error: "ClosedTicket", description: "closed" }))).toBe(true);
    expect(isClosedTicketAnswer(422, detail("comment", { description: "Comment too long" }))).toBe(false);
    expect(isClosedTicketAnswer(400, detail("status", { description: "Status: closed prevents ticket update" }))).toBe(false);
    expect(isClosedTicketAnswer(422, undefined)).toBe(false);
  });
});

describe("redactedHtmlOf", () => {
  it("reads the comment of a redaction answer", () => {
    expect(redactedHtmlOf({ comment: { html_body: "<p>▇</p>" } })).toBe("<p>▇</p>");
    expect(redactedHtmlOf({ comment: { body: "▇" } })).toBe("▇");
    expect(redactedHtmlOf({})).toBeUndefined();
    expect(redactedHtmlOf(undefined)).toBeUndefined();
  });
});
