/**
 * pyre's Worker entry: the Hono app serves pages, accounts and the socket endpoint; each chat room is a
 * `Room` Durable Object; a socket that is not bound to one room (many topics, or LongPoll) is a
 * `SocketSession`.
 */
import { createApp } from "./http/app";

export { Room } from "./realtime/room/room";
export { SocketSession } from "./realtime/session/socket-session";
export { UserSockets } from "./realtime/user-sockets/user-sockets";

export default createApp() satisfies ExportedHandler<Env>;
