/**
 * pyre's Worker entry: the Hono app serves pages, accounts and the socket endpoint; each chat room is a
 * `Room` Durable Object.
 */
import { createApp } from "./http/app";

export { Room } from "./realtime/room";
export { UserSockets } from "./realtime/user-sockets";

export default createApp() satisfies ExportedHandler<Env>;
