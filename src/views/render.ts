import type { Context } from "hono";
import { html } from "hono/html";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Sends a page with its doctype. Hono JSX escapes every interpolated value, so user text stays text. */
export function render(c: Context, page: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(html`<!doctype html>${page}`, status);
}
