// What the lab hands Azure, decoded as Azure and cloud-init read it: the lab-stack tests look for
// a file or a password in there, wherever base64 or YAML hides it.
import { load } from 'js-yaml';

interface WriteFile {
  path: string;
  permissions: string;
  encoding?: 'b64';
  content: string;
}

/** The files cloud-init writes, decoded as cloud-init decodes them, by path. */
export function writtenFiles(text: string): Map<string, { permissions: string; content: string }> {
  const doc = load(text) as { write_files: WriteFile[] };
  return new Map(
    doc.write_files.map((f) => [
      f.path,
      { permissions: f.permissions, content: f.encoding === 'b64' ? Buffer.from(f.content, 'base64').toString('utf8') : f.content },
    ]),
  );
}

/** Every string inside a value, and what base64-decoding it (twice) gives: where a password could hide. */
export function readableTexts(value: unknown): string[] {
  const texts: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      texts.push(v);
      let decoded = v;
      for (let round = 0; round < 2 && /^[A-Za-z0-9+/=\s]{8,}$/.test(decoded); round++) {
        decoded = Buffer.from(decoded, 'base64').toString('utf8');
        texts.push(decoded);
        // cloud-init's `content: <base64>` lines inside a decoded document
        for (const m of decoded.matchAll(/content: ([A-Za-z0-9+/=]{8,})$/gm)) texts.push(Buffer.from(m[1]!, 'base64').toString('utf8'));
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return texts;
}
