/**
 * The Room Durable Object: one per chat room, holding its members' hibernatable WebSockets. A thin shell
 * (shell/socket-object.ts): it admits sockets and hands decoded frames to the router (router.ts); what the
 * room holds while awake is the LiveRoom (live-room.ts).
 */
import { configOf } from "../../config";
import type { Post, PostsQuery } from "../../shared/post";
import { SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { readAdmission } from "../access/admission";
import { rememberRevocation } from "../access/remembered-revocations";
import { readFrame } from "../phoenix/serializer";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { SocketObject } from "../shell/socket-object";
import type { SocketHolder } from "../user-sockets/client";
import { wakeBy } from "./alarms";
import { LiveRoom } from "./live-room";
import { handleMalformed, handleMessage } from "./router";

export class Room extends SocketObject implements SocketHolder {
  protected readonly kind = { label: "Room", noun: "room" };
  #live: LiveRoom | undefined;

  protected onAdmission(request: Request): Response {
    const admission = readAdmission(request);
    if (!admission) return new Response("Not an admission from the socket endpoint", { status: 400 });
    return this.#liveRoom(admission.room).admit(admission, (attach) =>
      this.acceptSocket(admission.phoenixSubprotocol, attach),
    );
  }

  protected async onMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const room = this.#awake();
    const connection = room?.get(ws);
    if (!room || !connection) {
      closeQuietly(ws, CloseCode.internalError, "unknown connection; reconnect");
      return;
    }
    const frame = readFrame(raw);
    switch (frame.kind) {
      case "close":
        room.drop(connection, frame.code, frame.reason);
        return;
      case "invalid":
        handleMalformed(connection, frame);
        return;
      case "message":
        await handleMessage(connection, frame.message, room);
    }
  }

  protected async onSocketEnd(ws: WebSocket): Promise<void> {
    const room = this.#awake();
    const connection = room?.get(ws);
    if (room && connection) await room.forget(connection);
  }

  /**
   * The room's one alarm, for every job that asked for it (alarms.ts): closes the sockets whose token has
   * expired, and retries copying posts to D1 after a failure that nothing else has woken the room for.
   */
  protected async onAlarm(): Promise<void> {
    const room = this.#awake();
    if (!room) return;
    const nextExpiry = room.dropExpired();
    if (nextExpiry !== undefined) await wakeBy(this.ctx.storage, nextExpiry);
    room.resumeCopying();
  }

  /**
   * RPC from the worker: a page of the room's posts, oldest first. The room answers rather than D1 alone,
   * because only the room knows the posts it has stored and broadcast but not yet copied to D1.
   */
  async posts(query: PostsQuery): Promise<Post[]> {
    const room = this.#awake();
    if (!room) throw new Error("a room without a name cannot page its posts");
    return room.page(query);
  }

  /** RPC from UserSockets: the user's slots this room still holds. */
  async liveSlots(userId: number): Promise<string[]> {
    return this.#awake()?.liveSlots(userId) ?? [];
  }

  /** RPC from UserSockets: the user logged out or changed password; end their older sockets here. */
  async endUserSockets(userId: number, validFrom: number): Promise<void> {
    const room = this.#awake();
    if (room) room.endUserSockets(userId, validFrom, SESSION_ENDED_CLOSE_CODE);
    // No sockets here (yet): still remember, for an admission that is on its way.
    else rememberRevocation(this.ctx.storage, userId, validFrom);
  }

  /** The live room, built on first use after the room wakes. */
  #liveRoom(name: string): LiveRoom {
    this.#live ??= new LiveRoom(this.ctx, this.env, name, configOf(this.env).roomLimits, (where, problem) =>
      this.log(where, problem),
    );
    return this.#live;
  }

  /**
   * The live room of a room woken by a socket or a call. Its name is the id's name (rooms are addressed
   * with `idFromName`), or failing that the one its sockets' attachments carry.
   */
  #awake(): LiveRoom | undefined {
    if (this.#live) return this.#live;
    const name = this.ctx.id.name ?? LiveRoom.nameOf(this.ctx);
    return name === undefined ? undefined : this.#liveRoom(name);
  }
}
