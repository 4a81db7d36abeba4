/**
 * Fan-out: delivers one event to every joined member of the room, asking the channel's `handle_out` how
 * each member gets it. A plain broadcast is encoded once and the same string goes to everyone; a member
 * whose channel intercepts the event (a mention filter) gets a push of its own, `[join_ref, null, …]`,
 * built around a payload that is still encoded only once.
 *
 * This is the only place that loops over members, and it needs nothing but the members and the rule, so
 * it can move out of the room (to shards that each hold part of a big room's sockets) unchanged.
 */

import { encodeBroadcast, encodePush } from "../phoenix/serializer";
import type { Connection, ConnectionState } from "./connection";

/** How one member receives an event: the shared broadcast, a push from its own channel, or not at all. */
export type Delivery = "broadcast" | "push" | "skip";

export type HandleOut = (event: string, payload: object, member: Readonly<ConnectionState>) => Delivery;

export function fanOut(
  members: Iterable<Connection>,
  topic: string,
  event: string,
  payload: object,
  handleOut: HandleOut,
): void {
  let broadcast: string | undefined;
  let payloadJson: string | undefined;
  for (const member of members) {
    const { joinRef } = member.state;
    if (joinRef === null) continue;
    const delivery = handleOut(event, payload, member.state);
    if (delivery === "skip") continue;
    if (delivery === "broadcast") {
      broadcast ??= encodeBroadcast(topic, event, payload);
      member.send(broadcast);
    } else {
      payloadJson ??= JSON.stringify(payload);
      member.send(encodePush(joinRef, topic, event, payloadJson));
    }
  }
}
