/**
 * Posts found across rooms, as the search and mentions pages list them: where (the room, linking to the
 * post in it), who, when, and the text (a search's snippet, its matches in `<mark>`). Hono's JSX escapes
 * every piece of text, the snippet's included: a match is marked by the element around it, never by markup
 * inside the text.
 */
import type { FoundPost } from "../db/found-posts";
import type { SnippetPart } from "../db/search";
import { postAnchor } from "../shared/post-view";
import { formatPostTime } from "../shared/time";
import { labelOf, roomPath } from "./rooms";

/** Where a post is in its room: the room page scrolls to it (and loads older posts until it is there). */
export function postPath(found: FoundPost): string {
  return `${roomPath(found.room.id)}#${postAnchor(found.post.id)}`;
}

export function FoundPostItem({ found, snippet }: { found: FoundPost; snippet?: SnippetPart[] | undefined }) {
  const { post } = found;
  return (
    <li class="found-post">
      <p class="found-where">
        <a href={postPath(found)} class="found-link">
          {labelOf(found.room)}
        </a>
        <span class="author">{post.user.username}</span>
        <time datetime={post.inserted_at}>{formatPostTime(post.inserted_at, new Date(), "UTC")} UTC</time>
      </p>
      <p class="message">
        {snippet ? snippet.map((part) => (part.match ? <mark>{part.text}</mark> : part.text)) : post.message}
      </p>
    </li>
  );
}
