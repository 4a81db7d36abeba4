import { secureHeaders } from "hono/secure-headers";

/**
 * Headers for every page. The Content-Security-Policy allows no inline script at all: the only script is
 * the bundled /assets file, so user text that slipped past escaping still could not run.
 */
export function securityHeaders() {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      // 'self' covers ws:// and wss:// to this host (CSP 3), which the room socket needs.
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"],
    },
    referrerPolicy: "same-origin",
    crossOriginEmbedderPolicy: false,
  });
}
