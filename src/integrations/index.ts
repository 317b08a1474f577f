/** Platform writers: each implements only `postNote` and `redactPart` over the platform's HTTP API. */
export { HttpBridgeWriter, type HttpBridgeWriterOptions } from "./http-bridge/http-bridge-writer.js";
export { IntercomWriter, intercomNoteHtml, type IntercomWriterOptions } from "./intercom/intercom-writer.js";
export { ZendeskWriter, type ZendeskWriterOptions } from "./zendesk/zendesk-writer.js";
