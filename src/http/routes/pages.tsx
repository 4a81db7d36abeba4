/** The home page and room pages. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { activeRooms } from "../../db/posts";
import { knownRoom, NO_SUCH_ROOM, type RoomView, roomPosts } from "../../realtime/room/client";
import { RECENT_POSTS_LIMIT } from "../../shared/room-contract";
import { isRoomId, isRoomName } from "../../shared/rooms";
import { HomePage } from "../../views/home";
import { render } from "../../views/render";
import { RoomPage } from "../../views/room";
import type { AppEnv } from "../env";
import { redirectToLogin } from "../middleware/session";
import { acceptInvite } from "./rooms-api";

export const pageRoutes = new Hono<AppEnv>();

const ROOM_NAME_RULE = "Room names are 1 to 64 letters, digits, - or _.";

pageRoutes.get("/", async (c) => {
  return render(c, <HomePage viewer={c.var.viewer} rooms={await activeRooms(c.var.db)} />);
});

/** Target of the "open a room" form. */
pageRoutes.get("/rooms", async (c) => {
  const name = (c.req.query("name") ?? "").trim().replace(/^#/, "");
  if (isRoomName(name)) return c.redirect(`/rooms/${name}`, 303);
  const roomError = name === "" ? "Type a room name to open it." : ROOM_NAME_RULE;
  return render(
    c,
    <HomePage viewer={c.var.viewer} rooms={await activeRooms(c.var.db)} roomName={name} roomError={roomError} />,
    422,
  );
});

/**
 * A room's page. Opening a public room's name that nobody has used creates it, with you as its owner
 * (within ROOMS_PER_USER_PER_DAY); a private room's page is for its members, and anyone else gets exactly
 * the page of a room that does not exist.
 */
pageRoutes.get("/rooms/:room", async (c) => {
  const id = c.req.param("room");
  if (!isRoomId(id)) throw new HTTPException(404, { message: `There is no room "${id}". ${ROOM_NAME_RULE}` });
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  const identity = { id: viewer.user.id, username: viewer.user.username };
  const room = await knownRoom(c.env, id);
  if (!room) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  let seen = await room.details(identity);
  if (!seen.ok && isRoomName(id)) {
    const created = await room.create({ kind: "public", title: null, dmPair: null, creator: identity });
    if (!created.ok && created.status === 429) throw new HTTPException(429, { message: created.error });
    seen = await room.details(identity);
  }
  if (!seen.ok) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  const posts = (await roomPosts(c.env, id, { limit: RECENT_POSTS_LIMIT }, viewer.user.id)) ?? [];
  return render(c, <RoomPage viewer={viewer} room={id} heading={headingOf(seen.value.room)} posts={posts} />);
});

/** `#name`, a private room's title, or `@partner` for a direct message. */
export function headingOf(room: RoomView): string {
  if (room.kind === "public") return `#${room.name}`;
  if (room.kind === "dm") return `@${room.partner?.username ?? "…"}`;
  return room.title ?? "Private room";
}

/**
 * An invite link opened in a browser: logged in, it makes you a member and takes you in (a member is just
 * taken in); logged out, you log in or sign up first and come back here. One page for every bad link.
 */
pageRoutes.get("/invites/:token", async (c) => {
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  const accepted = await acceptInvite(
    c.env,
    { id: viewer.user.id, username: viewer.user.username },
    c.req.param("token"),
  );
  if (!accepted.ok) throw new HTTPException(404, { message: accepted.error });
  return c.redirect(`/rooms/${accepted.value.id}`, 303);
});
