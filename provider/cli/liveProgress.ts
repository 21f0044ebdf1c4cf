// The live block `--wait` draws on a terminal: one line per database and per loading table, with a
// bar, percent, rate and ETA, redrawn in place by cli-progress (a well-kept library: cursor moves,
// hidden cursor, redraw only on change). Lines are fitted to the terminal by display width, so wide
// characters and narrow terminals never wrap a line and break the redraw.
import { Format, MultiBar, type SingleBar } from 'cli-progress';
import stringWidth from 'string-width';
import { redact } from './secrets';

/** One line of the block: a label, an optional bar (0..1), then figures. */
export interface LiveLine {
  readonly indent: number;
  readonly label: string;
  readonly fraction?: number;
  readonly figures: string;
}

/** Bar characters: ASCII, because block glyphs are ambiguous-width and take two columns in CJK terminals. */
const BAR = { complete: '#', incomplete: '-' };
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** `text` cut to at most `width` columns (by display width, whole graphemes), ending in … when cut. */
export function fitWidth(text: string, width: number): string {
  if (width <= 0) return '';
  if (stringWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = stringWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

function bar(fraction: number, size: number): string {
  return `[${Format.BarFormat(Math.min(1, Math.max(0, fraction)), {
    barsize: size,
    barCompleteString: BAR.complete.repeat(size + 1),
    barIncompleteString: BAR.incomplete.repeat(size + 1),
    barGlue: '',
  } as Parameters<typeof Format.BarFormat>[1])}]`;
}

const MIN_LABEL = 12;

/**
 * A line at `width` columns (one column left free: some terminals wrap on writing the last one).
 * The label gives way first (down to MIN_LABEL columns), then the bar shrinks, then the figures are
 * cut from the end (they start with the ETA), and only then the bar goes.
 */
export function renderLine(line: LiveLine, width: number): string {
  const room = Math.max(10, width - 1);
  const indent = ' '.repeat(line.indent);
  const label = line.label.normalize('NFC');
  if (line.fraction === undefined) return fitWidth(`${indent}${label}  ${line.figures}`.trimEnd(), room);
  const percent = `${Math.floor(Math.min(1, Math.max(0, line.fraction)) * 100)}%`.padStart(4);
  const minLabel = Math.min(MIN_LABEL, stringWidth(label));
  for (const size of [20, 10, 6]) {
    const tail = `  ${bar(line.fraction, size)} ${percent}  ${line.figures}`.trimEnd();
    const labelRoom = room - line.indent - stringWidth(tail);
    if (labelRoom >= minLabel) return `${indent}${fitWidth(label, labelRoom)}${tail}`;
  }
  const head = `${indent}${fitWidth(label, minLabel)}  ${bar(line.fraction, 6)} ${percent}`;
  if (stringWidth(head) <= room) return fitWidth(`${head}  ${line.figures}`.trimEnd(), room);
  return fitWidth(`${indent}${label}  ${percent}  ${line.figures}`.trimEnd(), room);
}

/** The block on a terminal: one cli-progress bar per line, added and removed as lines come and go. */
export class LiveProgress {
  private readonly multibar: MultiBar;
  private readonly bars: SingleBar[] = [];

  constructor(stream: NodeJS.WriteStream) {
    this.multibar = new MultiBar({
      stream,
      // Lines already fit (renderLine); line wrapping stays on so a killed process leaves the terminal as it was.
      linewrap: true,
      hideCursor: true,
      gracefulExit: false,
      clearOnComplete: false,
      // The catalog is polled once a second: redrawing more often would show nothing new.
      fps: 2,
      format: (_options, params, payload: { line: LiveLine }) => redact(renderLine(payload.line, params.maxWidth)),
    });
  }

  /** Draws `lines` now, in place of the block drawn before. */
  show(lines: readonly LiveLine[]): void {
    while (this.bars.length > lines.length) this.multibar.remove(this.bars.pop()!);
    lines.forEach((line, i) => {
      const value = line.fraction ?? 0;
      const existing = this.bars[i];
      if (existing) existing.update(value, { line });
      else this.bars.push(this.multibar.create(1, value, { line }));
    });
    this.multibar.update();
  }

  /** Draws the last block and leaves the cursor below it, visible. */
  stop(): void {
    this.multibar.stop();
  }
}
