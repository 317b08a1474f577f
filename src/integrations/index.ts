/** Platform writers: each implements only `postNote` and `redactPart` over the platform's HTTP API. */
export { DEFAULT_REQUEST_TIMEOUT_MS, type PlatformWriterOptions } from "./config.js";
export { HttpBridgeWriter, type HttpBridgeWriterOptions } from "./http-bridge/http-bridge-writer.js";
export {
  DEFAULT_INTERCOM_VERSION, IntercomWriter, intercomNoteHtml, supportsSkipUnsnooze, type IntercomWriterOptions,
} from "./intercom/intercom-writer.js";
export { ZendeskWriter, type ZendeskWriterOptions } from "./zendesk/zendesk-writer.js";
