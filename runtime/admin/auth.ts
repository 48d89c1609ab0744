import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";

/**
 * Guards the admin API. With a token: `Authorization: Bearer <token>` or 401 (compared in constant
 * time by Hono). Without one the API is open: config refuses that on any non-loopback host.
 */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  if (!token) return async (_c, next) => next();
  return bearerAuth({
    token,
    realm: "ferry-admin",
    noAuthenticationHeaderMessage: { error: "the admin API needs Authorization: Bearer <FERRY_ADMIN_TOKEN>" },
    invalidAuthenticationHeaderMessage: { error: "the Authorization header must be: Bearer <FERRY_ADMIN_TOKEN>" },
    invalidTokenMessage: { error: "the bearer token is not this worker's FERRY_ADMIN_TOKEN" },
  });
}
