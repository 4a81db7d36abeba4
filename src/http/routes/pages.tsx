/** The home page and room pages. (Forms that change rooms, and room settings: room-pages.tsx.) */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { activeRooms } from "../../db/posts";
import type { RoomCounts } from "../../db/read-states";
import { roomsFor } from "../../db/rooms";
import { logError } from "../../log";
import { knownRoom, NO_SUCH_ROOM, type RoomView, roomPosts, YOU_ARE_BANNED } from "../../realtime/room/client";
import { RECENT_POSTS_LIMIT } from "../../shared/room-contract";
import { isRoomId, isRoomName } from "../../shared/rooms";
import { type HomeForms, HomePage } from "../../views/home";
import { render } from "../../views/render";
import { RoomPage } from "../../views/room";
import { headingOf } from "../../views/rooms";
import type { AppEnv, Viewer } from "../env";
import { redirectToLogin } from "../middleware/session";
import { acceptInvite, roomCounts } from "../rooms";

export const pageRoutes = new Hono<AppEnv>();

export const ROOM_NAME_RULE = "Room names are 1 to 64 letters, digits, - or _.";

pageRoutes.get("/", (c) => renderHome(c));

/** Target of the "open a room" form. */
pageRoutes.get("/rooms", async (c) => {
  const name = (c.req.query("name") ?? "").trim().replace(/^#/, "");
  if (isRoomName(name)) return c.redirect(`/rooms/${name}`, 303);
  const roomError = name === "" ? "Type a room name to open it." : ROOM_NAME_RULE;
  return renderHome(c, { roomName: name, roomError }, 422);
});

/**
 * The home page: the public rooms, busiest first, and for a logged-in viewer their own rooms (private rooms,
 * direct messages, public rooms they joined) with the forms to start one. `forms` brings back what a refused
 * form sent, with the reason.
 */
export async function renderHome(c: Context<AppEnv>, forms: HomeForms = {}, status: ContentfulStatusCode = 200) {
  const viewer = c.var.viewer;
  const [publicRooms, listed] = await Promise.all([
    activeRooms(c.var.db),
    viewer ? roomsFor(c.var.db, viewer.user.id) : Promise.resolve([]),
  ]);
  const yourRooms = listed.filter((room) => room.role !== null);
  const counts = viewer
    ? await countsOrNone(c, viewer, [...yourRooms.map((room) => room.id), ...publicRooms.map((room) => room.room)])
    : undefined;
  return render(
    c,
    <HomePage viewer={viewer} rooms={publicRooms} yourRooms={yourRooms} counts={counts} {...forms} />,
    status,
  );
}

/**
 * The viewer's unread and mention counts in the rooms a page lists, in one query. A page still shows
 * without them when D1 fails to count (the failure is logged); the page's script brings them live later.
 */
async function countsOrNone(c: Context<AppEnv>, viewer: Viewer, roomIds: string[]): Promise<Map<string, RoomCounts>> {
  try {
    return await roomCounts(c.var.db, viewer.user.id, roomIds);
  } catch (problem) {
    logError("the room lists' counts", problem);
    return new Map();
  }
}

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
  if (!seen.ok && seen.status === 403) throw new HTTPException(403, { message: seen.error });
  if (!seen.ok && isRoomName(id)) {
    const created = await room.create({ kind: "public", title: null, dmPair: null, creator: identity });
    if (!created.ok && created.status === 429) throw new HTTPException(429, { message: created.error });
    seen = await room.details(identity);
  }
  if (!seen.ok) throw new HTTPException(404, { message: NO_SUCH_ROOM });
  return renderRoom(c, viewer, seen.value.room);
});

/**
 * The room page for a room the viewer may see (`view`, as the room answered): its recent posts, and the
 * sidebar of the viewer's rooms. `alert` shows a refusal (leaving as the owner, say) with its `status`.
 */
export async function renderRoom(
  c: Context<AppEnv>,
  viewer: Viewer,
  view: RoomView,
  alert?: { message: string; status: ContentfulStatusCode },
) {
  const [posts, listed] = await Promise.all([
    roomPosts(c.env, view.id, { limit: RECENT_POSTS_LIMIT }, viewer.user.id),
    roomsFor(c.var.db, viewer.user.id),
  ]);
  // Banned since the room answered the view: what the page of a room that banned you says.
  if (posts === "banned") throw new HTTPException(403, { message: YOU_ARE_BANNED });
  const yourRooms = listed.filter((room) => room.role !== null);
  const counts = await countsOrNone(
    c,
    viewer,
    yourRooms.map((room) => room.id),
  );
  const page = (
    <RoomPage
      viewer={viewer}
      room={view.id}
      heading={headingOf(view)}
      posts={posts ?? []}
      view={view}
      yourRooms={yourRooms}
      counts={counts}
      alert={alert?.message}
    />
  );
  return render(c, page, alert?.status ?? 200);
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
