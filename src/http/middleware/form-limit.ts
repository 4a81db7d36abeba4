import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";

/** Our forms are a few hundred bytes; anything far larger is refused before it is parsed. */
export const FORM_MAX_BYTES = 16 * 1024;

export function formBodyLimit() {
  return bodyLimit({
    maxSize: FORM_MAX_BYTES,
    onError: () => {
      throw new HTTPException(413, {
        message: `That form was larger than ${FORM_MAX_BYTES / 1024} KiB, so it was refused.`,
      });
    },
  });
}
