import type { Child } from "hono/jsx";
import { UNSEEN_MENTIONS_CAP } from "../db/mentions";
import { SEARCH_MAX_LENGTH } from "../db/search";
import type { Viewer } from "../http/env";
import { logError } from "../log";
import { countLabel } from "../shared/counts";

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
                <search class="topbar-search">
                  <form method="get" action="/search">
                    <label for="topbar_q" class="visually-hidden">
                      Search posts
                    </label>
                    <input
                      type="search"
                      id="topbar_q"
                      name="q"
                      placeholder="Search"
                      maxlength={SEARCH_MAX_LENGTH}
                      autocomplete="off"
                    />
                  </form>
                </search>
                <MentionsLink viewer={viewer} />
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

/**
 * "Mentions" in the top bar, with the number of mentions that arrived since the viewer last opened the page
 * ("99+" above 99). The count is the page's one D1 read for the top bar; if it fails the link still shows.
 */
async function MentionsLink({ viewer }: { viewer: Viewer }) {
  let count = 0;
  try {
    count = await viewer.unseenMentions();
  } catch (problem) {
    logError("the top bar's mention count", problem);
  }
  const shown = countLabel(count, UNSEEN_MENTIONS_CAP);
  return (
    <a href="/mentions" id="mentions_link">
      Mentions
      {count > 0 && (
        <span class="count-badge">
          <span id="mentions_count">{shown}</span>
          <span class="visually-hidden"> new</span>
        </span>
      )}
    </a>
  );
}
