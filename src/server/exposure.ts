/** Who may reach which route: loopback binding, `Host` names, bearer tokens. */
import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** Whether a listen address reaches this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (h.startsWith("::ffff:")) return isLoopbackAddress(h.slice(7));
  return isIP(h) === 4 && h.startsWith("127.");
}

/**
 * Whether a request's `Host` header names this machine's loopback: `localhost` (and
 * `*.localhost`), 127.0.0.0/8 or `[::1]`, with any port. A page served from an attacker's domain
 * that rebinds its name to 127.0.0.1 still sends its own name, so it is refused.
 */
export function isLoopbackHostHeader(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  const host = value.startsWith("[") ? value.slice(0, value.indexOf("]") + 1) : value.replace(/:\d*$/, "");
  return host !== "" && isLoopbackAddress(host);
}

/** Constant-time check of `Authorization: Bearer <token>`. */
export function hasBearer(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(authorization ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
