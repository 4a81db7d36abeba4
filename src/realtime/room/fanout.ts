/**
 * Fan-out: delivers one event to every joined member of the room, as the channel's `handle_out` says.
 * The only place that loops over members, and it needs nothing else, so it can move to shards in front
 * of a sequencing room unchanged (docs/architecture.md#no-room-wide-queue, docs/scaling.md).
 */

import type { SerializerVersion } from "../phoenix/serializer";
import type { Connection, ConnectionState } from "./connection";

/** How one member receives an event: the shared broadcast, a push from its own channel, or not at all. */
export type Delivery = "broadcast" | "push" | "skip";

export type HandleOut = (event: string, payload: object, member: Readonly<ConnectionState>) => Delivery;

/**
 * The payload is encoded once, and a plain broadcast once per serializer the members speak (at most twice,
 * V2 and V1, as Phoenix caches a broadcast's encoding per serializer): the same string goes to every member
 * of a serializer. A member whose channel intercepts the event (a mention filter) gets a push of its own,
 * with its join_ref, built around the same encoded payload.
 */
export function fanOut(
  members: Iterable<Connection>,
  topic: string,
  event: string,
  payload: object,
  handleOut: HandleOut,
): void {
  const broadcasts: Partial<Record<SerializerVersion, string>> = {};
  let payloadJson: string | undefined;
  for (const member of members) {
    const { joinRef } = member.state;
    if (joinRef === null) continue;
    const delivery = handleOut(event, payload, member.state);
    if (delivery === "skip") continue;
    payloadJson ??= JSON.stringify(payload);
    const { serializer } = member;
    if (delivery === "broadcast") {
      let broadcast = broadcasts[serializer.vsn];
      if (broadcast === undefined) {
        broadcast = serializer.broadcast(topic, event, payloadJson);
        broadcasts[serializer.vsn] = broadcast;
      }
      member.send(broadcast);
    } else member.send(serializer.push(joinRef, topic, event, payloadJson));
  }
}
