/**
 * Fan-out: delivers one event to every joined member of the room, as the channel's `handle_out` says.
 * The only place that loops over members, and it needs nothing else, so it can move to shards in front
 * of a sequencing room unchanged (docs/architecture.md#no-room-wide-queue, docs/scaling.md).
 */

import { encodeBroadcast, encodePush } from "../phoenix/serializer";
import type { Connection, ConnectionState } from "./connection";

/** How one member receives an event: the shared broadcast, a push from its own channel, or not at all. */
export type Delivery = "broadcast" | "push" | "skip";

export type HandleOut = (event: string, payload: object, member: Readonly<ConnectionState>) => Delivery;

/**
 * A plain broadcast is encoded once and the same string goes to everyone; a member whose channel
 * intercepts the event (a mention filter) gets a push of its own, `[join_ref, null, …]`, built around a
 * payload that is still encoded only once.
 */
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
