// How a stream's messages name its two servers. One apply engine runs both directions: forward from
// the source to the target, and in a fallback window back from the new server (the target, the
// primary since the cutover) to the old source. A message of the reverse stream that said "the
// source" would send the user to the server the stream applies to, so every message the two share
// takes its words from the stream it is about.

export interface StreamWords {
  readonly direction: 'forward' | 'reverse';
  /** The stream, as its messages call it. */
  readonly stream: string;
  /** The server it reads changes from. */
  readonly source: string;
  /** The server it applies them to. */
  readonly target: string;
}

export const FORWARD_STREAM_WORDS: StreamWords = { direction: 'forward', stream: 'stream', source: 'the source', target: 'the target' };

export const REVERSE_STREAM_WORDS: StreamWords = {
  direction: 'reverse',
  stream: 'reverse stream',
  source: 'the new server',
  target: 'the old source',
};

/** `source table T` forward, `table T of the new server` back. */
export function sourceTableWords(words: StreamWords, table: string): string {
  return words.direction === 'forward' ? `source table ${table}` : `table ${table} of ${words.source}`;
}

/** `target table T` forward, `table T of the old source` back. */
export function targetTableWords(words: StreamWords, table: string): string {
  return words.direction === 'forward' ? `target table ${table}` : `table ${table} of ${words.target}`;
}
