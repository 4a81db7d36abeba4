import type { RoomSummary } from "../db/posts";
import type { RoomCounts } from "../db/read-states";
import type { ListedRoom } from "../db/rooms";
import type { Viewer } from "../http/env";
import { formatAge } from "../shared/time";
import { FormAlert } from "./form";
import { Layout } from "./layout";
import { CountBadges, YourRooms } from "./rooms";

/** What a form on the home page sent when it was refused, and why, to show it again with the reason. */
export interface HomeForms {
  /** What was typed into "open a room". */
  roomName?: string;
  roomError?: string;
  /** "New private room". */
  privateTitle?: string;
  privateError?: string;
  /** "Message @username". */
  dmUsername?: string;
  dmError?: string;
}

export interface HomePageProps extends HomeForms {
  viewer: Viewer | null;
  /** The public rooms, busiest first. */
  rooms: RoomSummary[];
  /** The viewer's own rooms (they are a member of each); never a private room they are not in. */
  yourRooms?: ListedRoom[];
  /** The viewer's unread and mention counts in the rooms listed, by room. */
  counts?: ReadonlyMap<string, RoomCounts> | undefined;
}

export function HomePage({ viewer, rooms, yourRooms = [], counts, ...forms }: HomePageProps) {
  const { roomName, roomError } = forms;
  return (
    <Layout viewer={viewer}>
      <section class="hero">
        <h1>Rooms that talk back, instantly.</h1>
        <p class="lede">
          {viewer
            ? "Open any room by name and everyone in it sees your posts the moment you send them."
            : "pyre is live chat on the edge. Sign up, open a room, and talk with everyone in it."}
        </p>
        <form method="get" action="/rooms" class="open-room" novalidate>
          <label for="room_name" class="visually-hidden">
            Room name
          </label>
          <span class="hash">#</span>
          <input
            id="room_name"
            name="name"
            value={roomName}
            placeholder="lobby"
            autocomplete="off"
            aria-invalid={roomError ? "true" : undefined}
          />
          <button type="submit" class="button primary">
            Open room
          </button>
        </form>
        {roomError && (
          <p class="field-error" role="alert" id="room_name_error">
            {roomError}
          </p>
        )}
      </section>
      {viewer && (
        <>
          <section class="card" aria-labelledby="your_rooms_heading">
            <h2 id="your_rooms_heading">Your rooms</h2>
            {yourRooms.length === 0 ? (
              <p class="empty">You are in no rooms yet: open one by name, start a private room, or message someone.</p>
            ) : (
              <div class="your-rooms">
                <YourRooms rooms={yourRooms} counts={counts} />
              </div>
            )}
          </section>
          <div class="home-forms">
            <NewPrivateRoom title={forms.privateTitle} error={forms.privateError} />
            <MessageSomeone username={forms.dmUsername} error={forms.dmError} />
          </div>
        </>
      )}
      <section class="card" aria-labelledby="active_rooms_heading">
        <h2 id="active_rooms_heading">Active rooms</h2>
        {rooms.length === 0 ? (
          <p class="empty">
            No posts anywhere yet. Start in <a href="/rooms/lobby">#lobby</a>.
          </p>
        ) : (
          <ul class="room-list" id="rooms">
            {rooms.map((summary) => (
              <li data-room={summary.room}>
                <a href={`/rooms/${summary.room}`}>#{summary.room}</a>
                {viewer && <CountBadges room={summary.room} counts={counts?.get(summary.room)} />}
                <span class="room-meta">
                  <span class="post-count">
                    {summary.postCount} {summary.postCount === 1 ? "post" : "posts"}
                  </span>
                  {" · "}
                  <time datetime={summary.lastPostAt.toISOString()}>last post {formatAge(summary.lastPostAt)}</time>
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </Layout>
  );
}

function NewPrivateRoom({ title, error }: { title?: string | undefined; error?: string | undefined }) {
  return (
    <section class="card" aria-labelledby="new_private_heading">
      <h2 id="new_private_heading">New private room</h2>
      <p class="hint">Only the people you add or invite can see it, read it or post in it.</p>
      <form method="post" action="/rooms/new-private" class="inline-form" novalidate>
        <FormAlert id="new_private_alert" message={error} />
        <div class="field">
          <label for="private_title">Title</label>
          <div class="input-row">
            <input
              id="private_title"
              class="grow"
              name="title"
              value={title}
              maxlength={80}
              autocomplete="off"
              placeholder="Book club"
              required
              aria-invalid={error ? "true" : undefined}
              aria-describedby={error ? "new_private_alert" : undefined}
            />
            <button type="submit" class="button primary">
              Create
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}

function MessageSomeone({ username, error }: { username?: string | undefined; error?: string | undefined }) {
  return (
    <section class="card" aria-labelledby="dm_heading">
      <h2 id="dm_heading">Message someone</h2>
      <p class="hint">A direct message: one room for the two of you, the same from either side.</p>
      <form method="post" action="/dm" class="inline-form" novalidate>
        <FormAlert id="dm_alert" message={error} />
        <div class="field">
          <label for="dm_username">Username</label>
          <div class="input-row">
            <span class="hash" aria-hidden="true">
              @
            </span>
            <input
              id="dm_username"
              class="grow"
              name="username"
              value={username}
              autocomplete="off"
              placeholder="bob"
              required
              aria-invalid={error ? "true" : undefined}
              aria-describedby={error ? "dm_alert" : undefined}
            />
            <button type="submit" class="button primary">
              Message
            </button>
          </div>
        </div>
      </form>
    </section>
  );
}
