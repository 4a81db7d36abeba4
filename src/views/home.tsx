import type { RoomSummary } from "../db/posts";
import type { Viewer } from "../http/env";
import { formatAge } from "../shared/time";
import { Layout } from "./layout";

export interface HomePageProps {
  viewer: Viewer | null;
  rooms: RoomSummary[];
  /** What was typed into "open a room" when it was refused. */
  roomName?: string;
  roomError?: string;
}

export function HomePage({ viewer, rooms, roomName, roomError }: HomePageProps) {
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
      <section class="card">
        <h2>Active rooms</h2>
        {rooms.length === 0 ? (
          <p class="empty">
            No posts anywhere yet. Start in <a href="/rooms/lobby">#lobby</a>.
          </p>
        ) : (
          <ul class="room-list" id="rooms">
            {rooms.map((summary) => (
              <li>
                <a href={`/rooms/${summary.room}`}>#{summary.room}</a>
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
