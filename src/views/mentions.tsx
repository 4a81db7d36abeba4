/**
 * Your mentions: the posts that mention you in every room you can read, newest first, each linking to the
 * post in its room; "Older mentions" pages on.
 */
import type { FoundPost } from "../db/found-posts";
import type { Viewer } from "../http/env";
import { FoundPostItem } from "./found-posts";
import { Layout } from "./layout";

export interface MentionsPageProps {
  viewer: Viewer;
  mentions: FoundPost[];
  /** The `before` of the next (older) page; null when this page holds the oldest. */
  next: string | null;
  /** Whether this is an older page (not the newest). */
  older: boolean;
}

export function MentionsPage({ viewer, mentions, next, older }: MentionsPageProps) {
  return (
    <Layout title="Mentions" viewer={viewer}>
      <section class="card" aria-labelledby="mentions_heading">
        <h1 id="mentions_heading">{older ? "Older mentions" : "Mentions"}</h1>
        <p class="aside">Posts that mention @{viewer.user.username}, in every room you can read, newest first.</p>
        {mentions.length === 0 ? (
          <p class="empty" id="mentions_empty">
            {older ? "No older mentions." : "Nobody has mentioned you yet."}
          </p>
        ) : (
          <ol class="found-posts" id="mentions">
            {mentions.map((found) => (
              <FoundPostItem found={found} />
            ))}
          </ol>
        )}
        {next && (
          <p>
            <a href={`/mentions?before=${encodeURIComponent(next)}`} id="older_mentions" class="button quiet">
              Older mentions
            </a>
          </p>
        )}
      </section>
    </Layout>
  );
}
