import type { Viewer } from "../http/env";
import type { Post } from "../shared/post";
import { postClassName, type Reader } from "../shared/post-view";
import { RECENT_POSTS_LIMIT } from "../shared/room-contract";
import { formatPostTime } from "../shared/time";
import { Layout } from "./layout";

export interface RoomPageProps {
  viewer: Viewer;
  /** The room's id: its topic is `room:<id>`. */
  room: string;
  /** How the room is called: `#name`, a private room's title, or `@partner` for a direct message. */
  heading: string;
  posts: Post[];
}

/**
 * The room as served: recent posts are in the HTML (so they show without script), and /assets/room.js then
 * connects, joins with `last_seen_id` and keeps the page live: the list, who is online, who is typing,
 * older posts on scrolling back, and unsent posts. The composer stays disabled until the first join.
 */
export function RoomPage({ viewer, room, heading, posts }: RoomPageProps) {
  const { id, username } = viewer.user;
  const reader: Reader = { id, username };
  // Fewer posts than a page holds: these are all the room has, so there is nothing older to load.
  const historyState = posts.length < RECENT_POSTS_LIMIT ? "start" : "more";
  return (
    <Layout title={heading} viewer={viewer} scripts={["/assets/room.js"]}>
      <section class="room card" id="room" data-room={room} data-user-id={id} data-username={username}>
        <header class="room-header">
          <h1>{heading}</h1>
          <output id="connection" class="status" data-state="offline">
            Offline
          </output>
          <label class="toggle">
            <input type="checkbox" id="mentions_only" autocomplete="off" />
            Only posts that mention @{username}
          </label>
        </header>
        <section class="online stale" id="online" aria-label="Who is online">
          <span id="online_count" class="online-count">
            0 online
          </span>
          <ul id="online_list" class="online-list"></ul>
        </section>
        <div id="timeline" class="timeline">
          <p id="history_edge" class="history-edge" data-state={historyState}>
            {historyState === "start" ? "Beginning of the room" : ""}
          </p>
          <ol id="posts" class="posts" aria-live="polite">
            {posts.map((post) => (
              <PostItem post={post} reader={reader} />
            ))}
          </ol>
          <ol id="outbox" class="posts outbox" aria-label="Not sent yet"></ol>
        </div>
        <p class="empty" id="posts_empty" hidden={posts.length > 0}>
          No posts yet. Say hello!
        </p>
        <p id="typing" class="typing" aria-live="polite"></p>
        <form id="composer" class="composer">
          <label for="post_message" class="visually-hidden">
            Message
          </label>
          <input id="post_message" name="message" autocomplete="off" placeholder={`Message ${heading}`} disabled />
          <button type="submit" class="button primary" id="post_send" disabled>
            Send
          </button>
        </form>
        <p id="post_error" class="field-error" role="alert" hidden></p>
      </section>
    </Layout>
  );
}

/** Must stay in step with `renderPost` in src/client/post-list.ts, which builds the same markup live. */
export function PostItem({ post, reader }: { post: Post; reader: Reader }) {
  return (
    <li class={postClassName(post, reader)} data-id={post.id}>
      <span class="author">{post.user.username}</span>
      <time datetime={post.inserted_at}>{formatPostTime(post.inserted_at, new Date(), "UTC")}</time>
      <p class="message">{post.message}</p>
    </li>
  );
}
