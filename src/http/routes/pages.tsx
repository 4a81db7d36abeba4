/** The home page and room pages. */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { activeRooms } from "../../db/posts";
import { roomPosts } from "../../realtime/room/client";
import { RECENT_POSTS_LIMIT } from "../../shared/room-contract";
import { isRoomName } from "../../shared/rooms";
import { HomePage } from "../../views/home";
import { render } from "../../views/render";
import { RoomPage } from "../../views/room";
import type { AppEnv } from "../env";
import { redirectToLogin } from "../middleware/session";

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

pageRoutes.get("/rooms/:room", async (c) => {
  const room = c.req.param("room");
  if (!isRoomName(room)) throw new HTTPException(404, { message: `There is no room "${room}". ${ROOM_NAME_RULE}` });
  const viewer = c.var.viewer;
  if (!viewer) return redirectToLogin(c);
  return render(
    c,
    <RoomPage viewer={viewer} room={room} posts={await roomPosts(c.env, room, { limit: RECENT_POSTS_LIMIT })} />,
  );
});
