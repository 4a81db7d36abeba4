import type { RoomCounts } from "../db/read-states";
import type { ListedRoom } from "../db/rooms";
import type { Viewer } from "../http/env";
import type { RoomView } from "../realtime/room/client";
import type { Post } from "../shared/post";
import { ACTION_LABELS, postActions, postAnchor, postClassName, type Reader, tombstoneText } from "../shared/post-view";
import { RECENT_POSTS_LIMIT } from "../shared/room-contract";
import { formatPostTime } from "../shared/time";
import { FormAlert } from "./form";
import { Layout } from "./layout";
import { RoleBadge, roomPath, YourRooms } from "./rooms";

export interface RoomPageProps {
  viewer: Viewer;
  /** The room's id: its topic is `room:<id>`. */
  room: string;
  /** How the room is called: `#name`, a private room's title, or `@partner` for a direct message. */
  heading: string;
  posts: Post[];
  /** The room as the viewer sees it: its kind and their role (null: a public room they have not joined). */
  view: RoomView;
  /** The viewer's rooms, for the sidebar. */
  yourRooms: ListedRoom[];
  /** The viewer's unread and mention counts in them, by room. */
  counts?: ReadonlyMap<string, RoomCounts> | undefined;
  /** A refusal to show (leaving as the owner, say). */
  alert?: string | undefined;
}

/**
 * The room as served: recent posts are in the HTML (so they show without script), and /assets/room.js then
 * connects, joins with `last_seen_id` and keeps the page live: the list, who is online, who is typing,
 * older posts on scrolling back, and unsent posts. The composer stays disabled until the first join.
 */
export function RoomPage({ viewer, room, heading, posts, view, yourRooms, counts, alert }: RoomPageProps) {
  const { id, username } = viewer.user;
  const moderates = view.kind !== "dm" && (view.role === "owner" || view.role === "moderator");
  const reader: Reader = { id, username, moderates };
  // Fewer posts than a page holds: these are all the room has, so there is nothing older to load.
  const historyState = posts.length < RECENT_POSTS_LIMIT ? "start" : "more";
  return (
    <Layout title={heading} viewer={viewer} scripts={["/assets/room.js"]} wide>
      <div class="room-layout" id="room_layout">
        <section
          class="room card"
          id="room"
          data-room={room}
          data-user-id={id}
          data-username={username}
          data-moderates={view.kind === "dm" ? undefined : String(moderates)}
        >
          <header class="room-header">
            <button
              type="button"
              class="button quiet drawer-toggle"
              id="rooms_toggle"
              aria-controls="room_nav"
              aria-expanded="false"
            >
              Rooms
            </button>
            <h1>{heading}</h1>
            {/* Shown by the page's script while the room has a "New messages" line (src/client/read-state.ts). */}
            <button type="button" class="button quiet" id="mark_read" hidden>
              Mark as read
            </button>
            <output id="connection" class="status" data-state="offline">
              Offline
            </output>
            <label class="toggle">
              <input type="checkbox" id="mentions_only" autocomplete="off" />
              Only posts that mention @{username}
            </label>
          </header>
          <RoomBar room={room} view={view} />
          <FormAlert id="room_alert" message={alert} />
          <section class="online stale" id="online" aria-label="Who is online">
            <span id="online_count" class="online-count">
              0 online
            </span>
            <ul id="online_list" class="online-list"></ul>
          </section>
          {moderates && <MemberMenu />}
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
          <p id="composer_state" class="hint composer-state" role="status" hidden></p>
          <p id="post_error" class="field-error" role="alert" hidden></p>
        </section>
        <nav class="sidebar card" id="room_nav" aria-labelledby="room_nav_heading">
          <h2 id="room_nav_heading" class="sidebar-heading">
            Your rooms
          </h2>
          <YourRooms rooms={yourRooms} current={room} level="h3" badges={false} counts={counts} />
          <p class="sidebar-foot">
            <a href="/">All rooms, new room, message someone</a>
          </p>
        </nav>
      </div>
    </Layout>
  );
}

/**
 * What kind of room this is for the viewer and what they can do here: join or leave a public room, leave a
 * private one or a direct message, open the settings (owners and moderators).
 */
function RoomBar({ room, view }: { room: string; view: RoomView }) {
  const manages = view.kind !== "dm" && (view.role === "owner" || view.role === "moderator");
  const kind = view.kind === "public" ? "Public room" : view.kind === "private" ? "Private room" : "Direct message";
  return (
    <div class="room-bar">
      <p class="room-kind">
        {kind}
        {view.kind === "public" && view.title ? <span class="room-title"> · {view.title}</span> : null}
        {view.kind === "public" && view.role === null ? <span> · you have not joined it</span> : null}
        <RoleBadge role={view.kind === "dm" ? null : view.role} />
      </p>
      <div class="room-actions">
        {manages && (
          <a class="button quiet" href={`${roomPath(room)}/settings`} id="room_settings_link">
            Settings
          </a>
        )}
        {view.kind === "public" && view.role === null ? (
          <form method="post" action={`${roomPath(room)}/join`}>
            <button type="submit" class="button quiet" id="join_room">
              Join
            </button>
          </form>
        ) : (
          <form method="post" action={`${roomPath(room)}/leave`}>
            <button type="submit" class="button quiet" id="leave_room">
              {view.kind === "public" ? "Leave" : view.kind === "dm" ? "Leave conversation" : "Leave room"}
            </button>
          </form>
        )}
      </div>
    </div>
  );
}

/**
 * The owner's and moderators' menu on a person in the online list (src/client/member-menu.ts opens it on
 * a click on their name): mute for a while, or ban, asked twice. Hidden until then; the room decides.
 */
function MemberMenu() {
  return (
    <section id="member_menu" class="member-menu" aria-labelledby="member_menu_heading" hidden>
      <h2 id="member_menu_heading">
        Moderate <span id="member_menu_name"></span>
      </h2>
      <div class="room-actions">
        {MUTE_CHOICES.map(({ seconds, label }) => (
          <button type="button" class="button quiet" data-mute={String(seconds)}>
            Mute {label}
          </button>
        ))}
      </div>
      <form id="mute_custom" class="input-row">
        <label for="mute_minutes">Mute for</label>
        <input id="mute_minutes" type="number" min="1" max="40320" value="10" class="uses" />
        <span>minutes</span>
        <button type="submit" class="button quiet">
          Mute
        </button>
      </form>
      <div class="room-actions">
        <button type="button" class="button quiet danger" id="member_ban">
          Ban…
        </button>
        <button type="button" class="button danger" id="member_ban_confirm" hidden>
          Yes, ban from this room
        </button>
        <button type="button" class="button quiet" id="member_menu_close">
          Close
        </button>
      </div>
      <p id="member_menu_result" class="hint" role="status"></p>
    </section>
  );
}

/** The menu's quick mutes. */
const MUTE_CHOICES = [
  { seconds: 60, label: "1 min" },
  { seconds: 3600, label: "1 h" },
  { seconds: 86_400, label: "1 day" },
];

/**
 * A post as the room has it now: author, time, "edited" with its time, the text (a tombstone's words
 * instead once deleted), and what the reader may do to it. Must stay in step with `renderPost` in
 * src/client/post-list.ts, which builds the same markup live.
 */
export function PostItem({ post, reader }: { post: Post; reader: Reader }) {
  const deleted = post.deleted_at !== undefined;
  const actions = postActions(post, reader);
  return (
    <li class={postClassName(post, reader)} data-id={post.id} data-user-id={post.user.id} id={postAnchor(post.id)}>
      <span class="author">{post.user.username}</span>
      <time datetime={post.inserted_at}>{formatPostTime(post.inserted_at, new Date(), "UTC")}</time>
      {post.edited_at !== undefined && !deleted ? (
        <time class="edited" datetime={post.edited_at}>
          edited {formatPostTime(post.edited_at, new Date(), "UTC")}
        </time>
      ) : null}
      <p class={deleted ? "message tombstone" : "message"}>{deleted ? tombstoneText(post) : post.message}</p>
      {actions.length > 0 ? (
        <span class="actions">
          {actions.map((action) => (
            <button type="button" class="link" data-action={action}>
              {ACTION_LABELS[action]}
            </button>
          ))}
        </span>
      ) : null}
    </li>
  );
}
