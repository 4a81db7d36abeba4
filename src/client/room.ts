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
import { CATCH_UP_LIMIT, type JoinParams, type JoinResponse, RoomEvent } from "../shared/room-channel";
import { roomTopic } from "../shared/rooms";
import { PostList } from "./post-list";
import { showConnectionState } from "./status";

interface ErrorResponse {
  reason?: string;
  errors?: Record<string, string>;
}

function start(): void {
  const roomElement = document.getElementById("room");
  const token = document.querySelector<HTMLMetaElement>('meta[name="user_token"]')?.content;
  if (!roomElement || !token) return;

  const room = roomElement.dataset.room ?? "";
  const username = roomElement.dataset.username ?? "";
  const status = byId<HTMLElement>("connection");
  const input = byId<HTMLInputElement>("post_message");
  const send = byId<HTMLButtonElement>("post_send");
  const form = byId<HTMLFormElement>("composer");
  const errorBox = byId<HTMLElement>("post_error");
  const mentionsToggle = byId<HTMLInputElement>("mentions_only");
  const posts = new PostList(byId<HTMLOListElement>("posts"), document.getElementById("posts_empty"), username);

  let mentionsOnly = false;
  const setComposerEnabled = (enabled: boolean) => {
    input.disabled = !enabled;
    send.disabled = !enabled;
  };
  const showError = (message: string | null) => {
    errorBox.hidden = message === null;
    errorBox.textContent = message ?? "";
  };

  const socket = new Socket("/socket", { authToken: token, params: { room } });
  socket.onOpen(() => showConnectionState(status, "connecting"));
  socket.onError(() => {
    setComposerEnabled(false);
    showConnectionState(status, "reconnecting");
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
      showConnectionState(status, "reconnecting");
    });
    channel
      .join()
      .receive("ok", (response: JoinResponse) => {
        posts.addComplete(response.posts);
        showConnectionState(status, "live");
        setComposerEnabled(true);
        if (response.posts.length >= CATCH_UP_LIMIT) {
          showError("You were away for a while: reload the page to see every post you missed.");
        }
      })
      .receive("error", (response: ErrorResponse) => {
        setComposerEnabled(false);
        showConnectionState(status, "error", response.reason ?? "join refused");
      })
      .receive("timeout", () => showConnectionState(status, "reconnecting"));
    return channel;
  };

  let channel = joinRoom();
  socket.connect();

  mentionsToggle.addEventListener("change", () => {
    mentionsOnly = mentionsToggle.checked;
    posts.setMentionsOnly(mentionsOnly);
    setComposerEnabled(false);
    showConnectionState(status, "connecting");
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
      .push(RoomEvent.newPost, { message: checked.message })
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
  return `The message was refused (${response.reason ?? "unknown reason"}).`;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`room page is missing #${id}`);
  return element as T;
}

start();
