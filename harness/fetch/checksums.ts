// sha512sum-style checksum files (`<hex>  <name>`, `<hex> *<name>`, or BSD `SHA512 (<name>) = <hex>`),
// local or by URL, and the sha512 they give a tarball.
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { HarnessError } from '../errors.ts';
import { downloadUnverified, isHttpUrl, type DownloadOptions } from './download.ts';

const GNU_LINE = /^([0-9a-fA-F]{128})\s+\*?(.+)$/;
const BSD_LINE = /^SHA512 \((.+)\) = ([0-9a-fA-F]{128})$/;

/** Per file name (its last path component), the sha512 the text lists, lower-case. */
export function parseSha512Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const gnu = GNU_LINE.exec(line);
    const bsd = gnu ? undefined : BSD_LINE.exec(line);
    const [hash, name] = gnu ? [gnu[1]!, gnu[2]!] : bsd ? [bsd[2]!, bsd[1]!] : [];
    if (hash && name) sums.set(posix.basename(name.trim()), hash.toLowerCase());
  }
  return sums;
}

/** The name a tarball is listed under: the last component of its path or URL. */
export function listedName(pathOrUrl: string): string {
  return posix.basename(isHttpUrl(pathOrUrl) ? decodeURIComponent(new URL(pathOrUrl).pathname) : pathOrUrl);
}

/** The text of a checksums file, read from disk or downloaded (once) into the cache. */
export async function readSumsFile(pathOrUrl: string, options: DownloadOptions): Promise<string> {
  const path = isHttpUrl(pathOrUrl) ? (await downloadUnverified(pathOrUrl, options)).path : pathOrUrl;
  return readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new HarnessError(`checksums file ${pathOrUrl} cannot be read (${error.code ?? error.message}); check the sha512sums path`);
  });
}

/** The checksums file does not list the tarball: for an optional image, that ISA is absent. */
export class UnlistedTarballError extends HarnessError {}

/** The sha512 the checksums file gives the tarball; a file that does not list it is an error. */
export async function sha512FromSums(sums: string, tarball: string, options: DownloadOptions): Promise<string> {
  const wanted = listedName(tarball);
  const hash = parseSha512Sums(await readSumsFile(sums, options)).get(wanted);
  if (!hash) throw new UnlistedTarballError(`${sums}: no sha512 line for ${wanted}; the checksums file does not list this tarball`);
  return hash;
}
