/**
 * pyre's Worker entry: the Hono app serves pages, accounts and the socket endpoint; each chat room is a
 * `Room` Durable Object; a socket that is not bound to one room (many topics, or LongPoll) is a
 * `SocketSession`.
 */
import { createApp } from "./http/app";
import { runMaintenance } from "./maintenance";

export { Room } from "./realtime/room/room";
export { SocketSession } from "./realtime/session/socket-session";
export { UserSockets } from "./realtime/user-sockets/user-sockets";

const app = createApp();

export default {
  fetch: app.fetch,
  /** The maintenance cron (wrangler.toml `[triggers]`). */
  scheduled(controller, env, ctx) {
    ctx.waitUntil(runMaintenance(env, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
