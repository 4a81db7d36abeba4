/**
 * The room page's live chat, on the official `phoenix` client. Runs only on a room page with a
 * `user_token` meta tag (logged in); otherwise it does nothing and opens no socket.
 *
 * The token travels as `authToken` (a WebSocket subprotocol), not in the URL, so it stays out of logs.
 * Every join, including automatic rejoins after a reconnect, sends `last_seen_id`, so the reply carries
 * exactly the posts missed meanwhile.
 */
import { type Channel, Socket } from "phoenix";
import { checkMessage, type Post } from "../shared/post";
import {
  CATCH_UP_LIMIT,
  type JoinParams,
  type JoinResponse,
  type NewPostParams,
  RoomEvent,
  SESSION_ENDED_CLOSE_CODE,
} from "../shared/room-channel";
import { roomTopic } from "../shared/rooms";
import { PostList } from "./post-list";
import { type ConnectionState, showConnectionState } from "./status";

interface ErrorResponse {
  reason?: string;
  detail?: string;
  errors?: Record<string, string>;
}

/** Failed connection attempts in a row before the status suggests reloading (a 403 looks like any error). */
const FAILURES_BEFORE_HINT = 3;

function start(): void {
  const roomElement = document.getElementById("room");
  const token = document.querySelector<HTMLMetaElement>('meta[name="user_token"]')?.content;
  if (!roomElement || !token) return;

  const room = roomElement.dataset.room ?? "";
  const reader = { id: Number(roomElement.dataset.userId), username: roomElement.dataset.username ?? "" };
  const statusElement = byId<HTMLElement>("connection");
  const input = byId<HTMLInputElement>("post_message");
  const send = byId<HTMLButtonElement>("post_send");
  const form = byId<HTMLFormElement>("composer");
  const errorBox = byId<HTMLElement>("post_error");
  const mentionsToggle = byId<HTMLInputElement>("mentions_only");
  const posts = new PostList(byId<HTMLOListElement>("posts"), document.getElementById("posts_empty"), reader);

  let mentionsOnly = mentionsToggle.checked;
  posts.setMentionsOnly(mentionsOnly);
  let sessionEnded = false;
  let failuresInARow = 0;

  const setComposerEnabled = (enabled: boolean) => {
    input.disabled = !enabled;
    send.disabled = !enabled;
  };
  const status = (state: ConnectionState, detail?: string) => {
    if (!sessionEnded) showConnectionState(statusElement, state, detail);
  };
  const showError = (message: string | null) => {
    errorBox.hidden = message === null;
    errorBox.textContent = message ?? "";
  };

  const socket = new Socket("/socket", { authToken: token, params: { room } });
  socket.onOpen(() => {
    failuresInARow = 0;
    status("connecting");
  });
  socket.onError(() => {
    failuresInARow += 1;
    setComposerEnabled(false);
    status("reconnecting", failuresInARow >= FAILURES_BEFORE_HINT ? "reload the page if this lasts" : undefined);
  });
  socket.onClose((event: CloseEvent) => {
    if (event.code !== SESSION_ENDED_CLOSE_CODE) return;
    // The token was revoked (logged out elsewhere) or expired: reconnecting with it would be refused.
    status("error", "your session has ended; reload the page or log in again");
    sessionEnded = true;
    setComposerEnabled(false);
    socket.disconnect();
  });

  const joinRoom = (): Channel => {
    const params = (): JoinParams =>
      posts.completeThrough === undefined
        ? { mentions_only: mentionsOnly }
        : { mentions_only: mentionsOnly, last_seen_id: posts.completeThrough };
    const channel = socket.channel(roomTopic(room), params);
    channel.on(RoomEvent.newPost, (post: Post) => {
      if (mentionsOnly) posts.add(post);
      else posts.addComplete([post]);
    });
    channel.onError(() => {
      setComposerEnabled(false);
      status("reconnecting");
    });
    channel
      .join()
      .receive("ok", (response: JoinResponse) => {
        posts.addComplete(response.posts);
        status("live");
        setComposerEnabled(true);
        if (response.posts.length >= CATCH_UP_LIMIT) {
          showError("You were away for a while: reload the page to see every post you missed.");
        }
      })
      .receive("error", (response: ErrorResponse) => {
        setComposerEnabled(false);
        status("error", response.detail ?? response.reason ?? "join refused");
      })
      .receive("timeout", () => status("reconnecting"));
    return channel;
  };

  let channel = joinRoom();
  socket.connect();

  mentionsToggle.addEventListener("change", () => {
    mentionsOnly = mentionsToggle.checked;
    posts.setMentionsOnly(mentionsOnly);
    setComposerEnabled(false);
    status("connecting");
    channel.leave();
    channel = joinRoom();
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    const checked = checkMessage(text);
    if (!checked.ok) {
      showError(`Message ${checked.error}.`);
      return;
    }
    showError(null);
    input.value = "";
    channel
      .push(RoomEvent.newPost, { message: checked.value } satisfies NewPostParams)
      .receive("ok", (post: Post) => posts.add(post))
      .receive("error", (response: ErrorResponse) => {
        showError(describeError(response));
        if (input.value === "") input.value = text; // nothing typed is lost
      })
      .receive("timeout", () => {
        showError("The server did not answer; your message may not have been sent.");
        if (input.value === "") input.value = text;
      });
  });
}

function describeError(response: ErrorResponse): string {
  const field = response.errors?.message;
  if (field) return `Message ${field}.`;
  if (response.reason === "unavailable") return "The message could not be stored. Please try again.";
  if (response.reason === "unauthorized") return "Your session has ended: reload the page or log in again.";
  return `The message was refused (${response.reason ?? "unknown reason"}).`;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`room page is missing #${id}`);
  return element as T;
}

start();
