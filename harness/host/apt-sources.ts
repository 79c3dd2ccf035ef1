// The machine's apt sources as apt reads them: one-line entries (sources.list, *.list) and
// deb822 stanzas (*.sources: Debian 12, Ubuntu 24.04). Pure: text in, entries out, so setup
// derives its deb-src line from what the machine already uses instead of hard-coding one.

export type AptFormat = 'one-line' | 'deb822';

export interface AptEntry {
  /** The file it was read from, for messages. */
  file: string;
  format: AptFormat;
  /** 'deb' and/or 'deb-src'. */
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** A keyring path, or (deb822 only) an inline key block, lines joined with '\n'. */
  signedBy?: string;
  /** False for a deb822 stanza with `Enabled: no` (a one-line entry is disabled by commenting it out, and then is no entry). */
  enabled: boolean;
}

/** The archive the machine installs its own release from. */
export interface MachineArchive {
  uri: string;
  suite: string;
  signedBy?: string;
  format: AptFormat;
  file: string;
}

/** Entries of one file, in the format its name says (apt reads *.sources as deb822, everything else as one-line). */
export function parseAptSources(text: string, file: string): AptEntry[] {
  return file.endsWith('.sources') ? parseDeb822(text, file) : parseOneLine(text, file);
}

/** `deb [opt=value ...] uri suite [component...]`, one per line; '#' starts a comment. */
export function parseOneLine(text: string, file: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const match = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s*)?(\S+)\s+(\S+)(.*)$/.exec(line);
    if (!match) continue;
    const [, type = '', options = '', uri = '', suite = '', components = ''] = match;
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(options)?.[1];
    entries.push({ file, format: 'one-line', types: [type], uris: [uri], suites: [suite], components: words(components), ...(signedBy && { signedBy }), enabled: true });
  }
  return entries;
}

/** deb822 stanzas separated by blank lines; field names are case-insensitive; continuation lines start with a space ('.' alone is an empty line). */
export function parseDeb822(text: string, file: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const stanza of text.split(/\n[ \t]*(?:\n|$)/)) {
    const fields = new Map<string, string>();
    let current: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      if (/^[ \t]/.test(line) && current !== undefined) {
        const more = line.trim();
        fields.set(current, `${fields.get(current)}\n${more === '.' ? '' : more}`);
        continue;
      }
      const field = /^([\w-]+):(.*)$/.exec(line);
      if (!field) continue;
      current = field[1]!.toLowerCase();
      fields.set(current, field[2]!.trim());
    }
    const types = words(fields.get('types') ?? '');
    if (!types.length) continue;
    const signedBy = fields.get('signed-by')?.replace(/^\n/, '');
    entries.push({
      file, format: 'deb822', types, uris: words(fields.get('uris') ?? ''), suites: words(fields.get('suites') ?? ''),
      components: words(fields.get('components') ?? ''), ...(signedBy && { signedBy }), enabled: !/^(no|false)$/i.test(fields.get('enabled') ?? 'yes'),
    });
  }
  return entries;
}

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

const sameUri = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** The enabled `deb` entry of the machine's own release (its codename, component main), or undefined. */
export function machineArchive(entries: readonly AptEntry[], codename: string): MachineArchive | undefined {
  const entry = entries.find((e) => e.enabled && e.types.includes('deb') && e.suites.includes(codename) && e.components.includes('main') && e.uris.length > 0);
  return entry && { uri: entry.uris[0]!.replace(/\/+$/, ''), suite: codename, ...(entry.signedBy && { signedBy: entry.signedBy }), format: entry.format, file: entry.file };
}

/** True when an enabled deb-src entry already covers the archive's suite, component main. */
export function coversDebSrc(entries: readonly AptEntry[], archive: MachineArchive): boolean {
  return entries.some((e) => e.enabled && e.types.includes('deb-src') && e.uris.some((uri) => sameUri(uri, archive.uri)) && e.suites.includes(archive.suite) && e.components.includes('main'));
}

/** The deb-src entry for the archive's main component, in the format of the entry it was derived from. */
export function debSrcEntry(archive: MachineArchive): { text: string; extension: '.list' | '.sources' } {
  if (archive.format === 'one-line') {
    return { text: `deb-src ${archive.signedBy ? `[signed-by=${archive.signedBy}] ` : ''}${archive.uri} ${archive.suite} main\n`, extension: '.list' };
  }
  const signedBy = archive.signedBy?.includes('\n') ? `\n${archive.signedBy.split('\n').map((line) => ` ${line || '.'}`).join('\n')}` : ` ${archive.signedBy}`;
  const lines = ['Types: deb-src', `URIs: ${archive.uri}`, `Suites: ${archive.suite}`, 'Components: main', ...(archive.signedBy ? [`Signed-By:${signedBy}`] : [])];
  return { text: `${lines.join('\n')}\n`, extension: '.sources' };
}

/** One entry in one line, for logs and doctor: `file: deb-src uri suites components`. */
export function describeEntry(entry: AptEntry): string {
  return `${entry.file}: ${entry.types.join(' ')} ${entry.uris.join(' ')} ${entry.suites.join(' ')} ${entry.components.join(' ')}`;
}
