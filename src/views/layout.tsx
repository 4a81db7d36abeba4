import type { Child } from "hono/jsx";
import type { Viewer } from "../http/env";

export interface LayoutProps {
  title?: string;
  viewer: Viewer | null;
  /** Module scripts from /assets; inline script is never used (the CSP forbids it). */
  scripts?: string[];
  /** A wider page (the room page with its sidebar). */
  wide?: boolean;
  children?: Child;
}

/** Every page's frame. A logged-in page carries the socket token; a logged-out one carries none. */
export function Layout({ title, viewer, scripts = [], wide = false, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {viewer && <meta name="user_token" content={viewer.socketToken} />}
        <title>{title ? `${title} · pyre` : "pyre"}</title>
        <link rel="stylesheet" href="/styles.css" />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        {scripts.map((src) => (
          <script type="module" src={src} />
        ))}
      </head>
      <body>
        <header class="topbar">
          <a class="brand" href="/">
            <img src="/favicon.svg" alt="" width="22" height="22" />
            pyre
          </a>
          <nav class="account">
            {viewer ? (
              <>
                <span class="whoami" id="whoami">
                  {viewer.user.username}
                </span>
                <a href="/account" id="account_link">
                  Account
                </a>
                <form method="post" action="/logout">
                  <button type="submit" class="button quiet">
                    Log out
                  </button>
                </form>
              </>
            ) : (
              <>
                <a href="/login">Log in</a>
                <a class="button" href="/register">
                  Sign up
                </a>
              </>
            )}
          </nav>
        </header>
        <main class={wide ? "wide" : undefined}>{children}</main>
      </body>
    </html>
  );
}
