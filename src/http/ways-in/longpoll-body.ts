/**
 * A LongPoll POST's body, counted as it streams and refused past a cap: a chunked body declares no length,
 * and reading it whole before checking would hold all of it (issue 15, item 3). What is kept never exceeds
 * the cap, whatever the client sends.
 */

/**
 * The body's bytes, or undefined once more than `cap` have arrived. Past the cap what was kept is let go
 * and the rest is read and dropped, not cancelled: `wrangler dev`'s proxy fails ("Network connection
 * lost", and the dev server exits) when a Worker answers before the request body was read, so the 413
 * waits for the end of the body, holding nothing (docs/ways-in.md#longpoll).
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  cap: number,
): Promise<Uint8Array | undefined> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  let chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      chunks = [];
      await drain(reader);
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Reads to the end, keeping nothing; a body that breaks off is over the cap all the same. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done) {
      // Dropped as read.
    }
  } catch {
    // The client went away mid-body: nothing left to drain.
  }
}
