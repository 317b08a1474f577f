import { createHmac, timingSafeEqual } from "node:crypto";

/** Constant-time comparison of an expected hex/base64 digest with what a header carried. */
function sameDigest(expected: Buffer, received: Buffer): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** `sha256=<hex>` of HMAC-SHA256(secret, raw body): the connector's push signature. */
export function verifyConnectorSignature(raw: Buffer, header: string | undefined, secret: string): boolean {
  return verifyPrefixedHex(raw, header, secret, "sha256");
}

/** `sha1=<hex>` of HMAC-SHA1(client secret, raw body): Intercom's `X-Hub-Signature`. */
export function verifyIntercomSignature(raw: Buffer, header: string | undefined, secret: string): boolean {
  return verifyPrefixedHex(raw, header, secret, "sha1");
}

function verifyPrefixedHex(raw: Buffer, header: string | undefined, secret: string, algorithm: "sha1" | "sha256"): boolean {
  if (typeof header !== "string") return false;
  const prefix = `${algorithm}=`;
  if (!header.startsWith(prefix)) return false;
  const hex = header.slice(prefix.length);
  const hexLength = algorithm === "sha1" ? 40 : 64;
  if (hex.length !== hexLength || !/^[0-9a-f]+$/i.test(hex)) return false;
  const expected = createHmac(algorithm, secret).update(raw).digest();
  return sameDigest(expected, Buffer.from(hex, "hex"));
}

/**
 * Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp + body)) with the
 * timestamp from `X-Zendesk-Webhook-Signature-Timestamp`; a timestamp further than `maxAgeMs`
 * from now (either way) is rejected as a replay.
 */
export function verifyZendeskSignature(
  raw: Buffer,
  signature: string | undefined,
  timestamp: string | undefined,
  secret: string,
  nowMs: number,
  maxAgeMs = 300_000,
): boolean {
  if (typeof signature !== "string" || typeof timestamp !== "string") return false;
  const at = Date.parse(timestamp);
  if (!Number.isFinite(at) || Math.abs(nowMs - at) > maxAgeMs) return false;
  const expected = createHmac("sha256", secret).update(timestamp).update(raw).digest();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  return sameDigest(expected, Buffer.from(signature, "base64"));
}

/** Helpers for tests and clients: the header values a correct sender would send. */
export const sign = {
  connector: (raw: string | Buffer, secret: string) => `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`,
  intercom: (raw: string | Buffer, secret: string) => `sha1=${createHmac("sha1", secret).update(raw).digest("hex")}`,
  zendesk: (raw: string | Buffer, secret: string, timestamp: string) =>
    createHmac("sha256", secret).update(timestamp).update(raw).digest("base64"),
};
