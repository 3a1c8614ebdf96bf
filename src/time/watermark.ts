// Watermark constants shared by operators, frames and tasks.

/** The timestamp of a record that carries none. */
export const NO_TIMESTAMP = Number.NEGATIVE_INFINITY;

/** The watermark before any has been seen. */
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY;

/** The watermark that end of input stands for: every event-time window and timer fires. */
export const MAX_WATERMARK = Number.POSITIVE_INFINITY;
