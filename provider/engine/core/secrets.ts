// The one secret mask: what replaces a password found in text that leaves pgferry (the CLI's
// output, the Pulumi provider's messages and progress lines, validation messages that may echo a
// server's words). It is the last line of defence: nothing pgferry writes should hold a secret.

/** What a masked secret becomes. */
const SECRET_MASK = '***';

/**
 * Replaces every secret found in text, as written and URL-encoded (as in a connection URL). Every
 * non-empty secret given is masked, however short: a caller that collects candidate secrets from
 * ordinary text (the CLI) leaves very short ones out itself.
 */
export function maskSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    if (out.includes(secret)) out = out.split(secret).join(SECRET_MASK);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join(SECRET_MASK);
  }
  return out;
}
