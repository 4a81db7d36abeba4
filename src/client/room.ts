/**
 * The room page's live chat, on the official `phoenix` client: wires the socket, the channel, the status,
 * the composer and the mentions-only toggle. Runs only on a logged-in room page (a `user_token` meta tag);
 * otherwise it opens no socket. Each part is a file of its own (src/client/README.md).
 */
import { type Channel, Presence } from "phoenix";
import { checkMessage, type Post } from "../shared/post";
import { anchoredPostId } from "../shared/post-view";
import {
  type DeletePostParams,
  type EditPostParams,
  type JoinResponse,
  type MarkReadParams,
  type MarkUnreadParams,
  type ModerationState,
  type PostDeleted,
  type PostUpdated,
  RECENT_POSTS_LIMIT,
  type ReadPositionReply,
  RoomErrorReason,
  RoomEvent,
  SESSION_ENDED_CLOSE_CODE,
  type TypingPayload,
} from "../shared/room-contract";
import { roomTopic } from "../shared/rooms";
import { ComposerModeration } from "./composer-moderation";
import { showLinkedPost } from "./linked-post";
import { enableMemberMenu } from "./member-menu";
import { OlderPosts } from "./older-posts";
import { OnlineList, onlinePeople } from "./online-list";
import { describeRefusal, Outbox, type ErrorResponse as RefusalResponse } from "./outbox";
import { PendingList } from "./pending-list";
import { enablePostActions } from "./post-actions";
import { PostList } from "./post-list";
import { PyreSocket } from "./pyre-socket";
import { NewMessagesLine, ReadMarker, watchReadStates } from "./read-state";
import { RoomFeed } from "./room-feed";
import { fetchChanges, fetchPosts, HistoryError, type HistorySource } from "./room-posts";
import { enableRoomsDrawer } from "./sidebar";
import { type ConnectionState, showConnectionState } from "./status";
import { TypingIndicator, TypingNotifier } from "./typing";

interface ErrorResponse {
  reason?: string;
  detail?: string;
}

/** Failed connection attempts in a row before the status suggests reloading (a 403 looks like any error). */
const FAILURES_BEFORE_HINT = 3;

const SESSION_ENDED = "your session has ended; reload the page or log in again";
const YOU_WERE_REMOVED = "you were removed from this room";
const YOU_LEFT = "you left this room";
const YOU_ARE_BANNED = "you are banned from this room";
const NOT_A_MEMBER = "this room is not there for you: it does not exist, or you are not a member";

function start(): void {
  const roomElement = document.getElementById("room");
  const token = document.querySelector<HTMLMetaElement>('meta[name="user_token"]')?.content;
  if (!roomElement || !token) return;

  const room = roomElement.dataset.room ?? "";
  const reader = {
    id: Number(roomElement.dataset.userId),
    username: roomElement.dataset.username ?? "",
    moderates: roomElement.dataset.moderates === "true",
  };
  const statusElement = byId<HTMLElement>("connection");
  const input = byId<HTMLInputElement>("post_message");
  const send = byId<HTMLButtonElement>("post_send");
  const form = byId<HTMLFormElement>("composer");
  const errorBox = byId<HTMLElement>("post_error");
  const mentionsToggle = byId<HTMLInputElement>("mentions_only");
  const timeline = byId<HTMLElement>("timeline");
  const list = new PostList(timeline, byId("posts"), document.getElementById("posts_empty"), reader);
  const pending = new PendingList(byId("outbox"), reader);
  const online = new OnlineList(
    byId("online_count"),
    byId("online_list"),
    reader.id,
    document.getElementById("member_menu") !== null,
  );
  const typists = new TypingIndicator(byId("typing"));
  const history: HistorySource = { baseUrl: "", room };

  let sessionEnded = false;
  let failuresInARow = 0;
  /** The channel of the current join (a new one after toggling mentions-only). */
  let activeChannel: Channel | undefined;
  /** The same channel while it is joined, else null. */
  let joined: Channel | null = null;

  const status = (state: ConnectionState, detail?: string) => {
    if (!sessionEnded) showConnectionState(statusElement, state, detail);
  };
  const showError = (message: string | null) => {
    errorBox.hidden = message === null;
    errorBox.textContent = message ?? "";
  };
  /** Joined (and the session alive); the composer is on when it is and moderation does not block it. */
  let composerOpen = false;
  const setComposerEnabled = (enabled: boolean) => {
    composerOpen = enabled;
    const on = enabled && !moderation.blocked;
    input.disabled = !on;
    send.disabled = !on;
  };
  const rendered = roomElement.dataset.moderates;
  const moderation = new ComposerModeration(
    byId("composer_state"),
    () => setComposerEnabled(composerOpen),
    rendered === undefined ? undefined : rendered === "true",
  );

  const feed = new RoomFeed({
    shownPosts: list.posts,
    show: (posts) => list.insert(posts),
    replace: (post) => list.replace(post),
    fetchChanges: (after, limit) => fetchChanges(history, after, limit),
    onCatchUpFailed: (problem) => {
      // A 401 means the session ended, which the socket is told too (close 4001).
      if (!(problem instanceof HistoryError && problem.sessionEnded)) {
        showError("Some of the posts you missed could not be loaded; they will be fetched when you reconnect.");
      }
    },
  });
  feed.mentionsOnly = mentionsToggle.checked;
  list.setMentionsOnly(mentionsToggle.checked);
  // A link to one post (`#post-ID`) opens the room at that post; otherwise at the newest.
  const linked = anchoredPostId(location.hash);
  if (linked === undefined) list.scrollToEnd();

  const older = new OlderPosts({
    timeline,
    edge: byId("history_edge"),
    oldestId: () => list.oldestId,
    fetchBefore: (before, limit) => fetchPosts(history, { before, limit }),
    show: (posts) => list.prepend(feed.older(posts)),
  });
  if (linked !== undefined) {
    void showLinkedPost(linked, older).then((shown) => {
      if (!shown) list.scrollToEnd();
    });
  }
  void older.check();

  const outbox = new Outbox({
    added: (entry) => {
      pending.add(entry);
      list.scrollToEnd();
    },
    stored: (entry, post) => {
      pending.remove(entry);
      feed.acknowledged(post);
    },
    refused: (entry, error) => {
      showError(error);
      // The text goes back to the composer, unless the person is already writing something else.
      if (input.value === "") {
        input.value = entry.message;
        pending.remove(entry);
      } else {
        pending.notSent(entry, error);
      }
    },
    sessionEnded: () => endSession(),
  });

  /** Pushes an edit or a deletion; null once the room has it (and the post is redrawn), else why not. */
  const change = (event: string, payload: EditPostParams | DeletePostParams): Promise<string | null> =>
    new Promise((resolve) => {
      if (!joined) return resolve("Not connected: try again.");
      joined
        .push(event, payload)
        .receive("ok", (answer: PostUpdated | PostDeleted) => {
          feed.changed(answer, false);
          resolve(null);
        })
        .receive("error", (response: RefusalResponse) => resolve(describeRefusal(response)))
        .receive("timeout", () => resolve("No answer: try again."));
    });
  /** Pushes `mark_read` or `mark_unread`; the room's position after it, or null when not joined or refused. */
  const moveReadPosition = (event: string, payload: MarkReadParams | MarkUnreadParams): Promise<number | null> =>
    new Promise((resolve) => {
      if (!joined) return resolve(null);
      joined
        .push(event, payload)
        .receive("ok", ({ last_read_id }: ReadPositionReply) => resolve(last_read_id))
        .receive("error", () => resolve(null))
        .receive("timeout", () => resolve(null));
    });
  const newMessages = new NewMessagesLine(byId("posts"), reader.id);
  const markReadButton = byId<HTMLButtonElement>("mark_read");
  const marker = new ReadMarker({
    timeline,
    list: byId("posts"),
    markRead: (upToId) => moveReadPosition(RoomEvent.markRead, { up_to_id: upToId }),
  });
  /** Where the "New messages" line stands (placed when the room opens, or by "Mark unread"). */
  const showNewMessages = (lastReadId: number): boolean => {
    const placed = newMessages.place(lastReadId);
    markReadButton.hidden = !placed;
    return placed;
  };
  markReadButton.addEventListener("click", async () => {
    const newest = list.newestId;
    if (newest === undefined) return;
    const position = await moveReadPosition(RoomEvent.markRead, { up_to_id: newest });
    if (position === null) return showError("Not marked as read: try again.");
    marker.position = position;
    marker.paused = false;
    newMessages.remove();
    markReadButton.hidden = true;
  });

  enablePostActions({
    list: byId("posts"),
    text: (id) => feed.shown(id)?.message,
    edit: (id, message, clientId) => change(RoomEvent.editPost, { id, message, client_id: clientId }),
    remove: (id) => change(RoomEvent.deletePost, { id }),
    markUnread: async (id) => {
      const position = await moveReadPosition(RoomEvent.markUnread, { from_id: id });
      if (position === null) return showError("Not marked unread: try again.");
      // Stays unread until the reader says otherwise: seeing the posts no longer marks them read.
      marker.paused = true;
      marker.position = position;
      showNewMessages(position);
    },
    showError,
  });

  const typing = new TypingNotifier(() => {
    if (!joined || moderation.blocked) return false;
    joined.push(RoomEvent.typing, {});
    return true;
  });

  const socket = new PyreSocket("/socket", { authToken: token, params: { room } });

  /** The token was revoked (logged out elsewhere) or expired: reconnecting with it would be refused. */
  const endSession = (why = SESSION_ENDED) => {
    if (sessionEnded) return;
    status("error", why);
    sessionEnded = true;
    joined = null;
    setComposerEnabled(false);
    outbox.stop();
    pending.notSentAll("your session has ended");
    feed.interrupted();
    socket.disconnect();
  };

  socket.onOpen(() => {
    failuresInARow = 0;
    status("connecting");
  });
  socket.onError(() => {
    failuresInARow += 1;
    status("reconnecting", failuresInARow >= FAILURES_BEFORE_HINT ? "reload the page if this lasts" : undefined);
  });
  socket.onClose((event: CloseEvent) => {
    if (event.code === SESSION_ENDED_CLOSE_CODE) endSession();
  });

  /** The join is gone (an error, or a rejoin with other params): nothing is live until the next join. */
  const detach = (state: ConnectionState) => {
    joined = null;
    feed.interrupted();
    outbox.left();
    online.stale(true);
    status(state);
  };

  const joinRoom = (): Channel => {
    let plainJoin = false;
    const channel = socket.channel(roomTopic(room), () => {
      const params = feed.joinParams();
      plainJoin = params.last_seen_seq === undefined;
      return params;
    });
    const current = () => channel === activeChannel && !sessionEnded;
    const presence = new Presence(channel);
    presence.onSync(() => {
      if (current()) online.show(onlinePeople(presence));
    });
    channel.on(RoomEvent.newPost, (post: Post) => {
      if (!current()) return;
      typists.stopped(post.user.id);
      feed.received(post);
      marker.check();
    });
    for (const event of [RoomEvent.postUpdated, RoomEvent.postDeleted]) {
      channel.on(event, (payload: PostUpdated | PostDeleted) => {
        if (current()) feed.changed(payload);
      });
    }
    channel.on(RoomEvent.typing, (payload: TypingPayload) => {
      if (current()) typists.typing(payload);
    });
    channel.onError(() => {
      if (current()) detach("reconnecting");
    });
    // Removed from (or left) a private room, or banned: the room closes the channel; a rejoin would be refused.
    channel.on(RoomEvent.membershipEnded, ({ reason }: { reason?: string }) => {
      if (current()) endSession(reason === "left" ? YOU_LEFT : reason === "banned" ? YOU_ARE_BANNED : YOU_WERE_REMOVED);
    });
    channel.on(RoomEvent.moderation, (state: ModerationState) => {
      if (current()) moderation.apply(state);
    });
    channel
      .join()
      .receive("ok", (response: JoinResponse) => {
        if (!current()) return;
        feed.joined(response);
        if (plainJoin) older.beginningShown = response.posts.length < RECENT_POSTS_LIMIT;
        joined = channel;
        marker.position = Math.max(marker.position, response.last_read_id);
        // The room opens at its first unread post, once: a rejoin leaves the reader where they are.
        if (!opened) {
          opened = true;
          if (showNewMessages(response.last_read_id) && linked === undefined) {
            newMessages.element.scrollIntoView({ block: "start" });
          }
        }
        marker.check();
        status("live");
        // Nothing applies unless the room's push right after the reply says so.
        moderation.apply(null);
        setComposerEnabled(true);
        outbox.joined(channel);
      })
      .receive("error", (response: ErrorResponse) => {
        if (!current()) return;
        // Final: the room is not there for you, and rejoining gets the same answer; stop and say so.
        if (response.reason === RoomErrorReason.noSuchRoom) return endSession(NOT_A_MEMBER);
        if (response.reason === RoomErrorReason.banned) return endSession(YOU_ARE_BANNED);
        status("error", response.detail ?? response.reason ?? "join refused");
      })
      .receive("timeout", () => {
        if (current()) status("reconnecting");
      });
    return channel;
  };

  /** Whether the first join has placed the "New messages" line. */
  let opened = false;
  activeChannel = joinRoom();
  // The sidebar's counts for every room, kept current over the same socket (`user:ID`).
  watchReadStates(socket, reader.id);
  socket.connect();

  mentionsToggle.addEventListener("change", () => {
    feed.mentionsOnly = mentionsToggle.checked;
    list.setMentionsOnly(mentionsToggle.checked);
    if (sessionEnded) return;
    detach("connecting");
    activeChannel?.leave();
    activeChannel = joinRoom();
  });

  input.addEventListener("input", () => {
    if (input.value.trim() !== "") typing.typed();
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sessionEnded) return;
    const checked = checkMessage(input.value);
    if (!checked.ok) {
      showError(`Message ${checked.error}.`);
      return;
    }
    showError(null);
    input.value = "";
    typing.reset();
    outbox.submit(checked.value);
  });
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`room page is missing #${id}`);
  return element as T;
}

enableRoomsDrawer();
start();
enableMemberMenu(document.getElementById("room")?.dataset.room ?? "");
