// Picks, among the images an OCI index or a docker archive holds, the one for an ISA.
import { HarnessError } from '../errors.ts';
import { ISAS, platformString, type Isa } from '../isa.ts';

export interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

/** An image found in a layout or archive, before its layers are read. */
export interface Candidate<T> {
  platform: Platform;
  /** Distinguishes two candidates that are the same image (listed under two tags). */
  digest: string;
  /** The name it is listed under (tag, RepoTags), for ambiguity errors. */
  name?: string;
  image: T;
}

export function describePlatform({ os, architecture, variant }: Platform): string {
  return [os ?? '?', architecture ?? '?', ...(variant ? [variant] : [])].join('/');
}

/** A missing variant matches: arm64 images rarely say v8, and arm images mean the default v7. */
export function platformMatches(platform: Platform, isa: Isa): boolean {
  return platform.os === isa.platform.os
    && platform.architecture === isa.platform.architecture
    && (!platform.variant || platform.variant === isa.platform.variant);
}

/** Attestation and other non-runnable manifests say unknown/unknown. */
export function isRunnable(platform: Platform): boolean {
  return platform.os !== 'unknown' && platform.architecture !== 'unknown';
}

/** The ISAs (of the table) that some runnable platform of the list serves. */
export function isasServed(platforms: readonly Platform[], among: readonly Isa[] = ISAS): Isa[] {
  return among.filter((isa) => platforms.some((platform) => isRunnable(platform) && platformMatches(platform, isa)));
}

/** Runnable platforms that no ISA of the table matches (windows/amd64, linux/sparc64, ...), described. */
export function unknownPlatforms(platforms: readonly Platform[]): string[] {
  const unknown = platforms.filter((platform) => isRunnable(platform) && !ISAS.some((isa) => platformMatches(platform, isa)));
  return [...new Set(unknown.map(describePlatform))];
}

export function pickForIsa<T>(candidates: Candidate<T>[], isa: Isa, label: string): T {
  const runnable = candidates.filter((candidate) => isRunnable(candidate.platform));
  const matching = runnable.filter((candidate) => platformMatches(candidate.platform, isa));
  const distinct = [...new Map(matching.map((candidate) => [candidate.digest, candidate])).values()];
  if (distinct.length === 0) {
    const present = [...new Set(runnable.map((candidate) => describePlatform(candidate.platform)))];
    throw new HarnessError(`${label}: no image for ${platformString(isa)} (ISA ${isa.name}); platforms present: ${present.join(', ') || 'none'}`);
  }
  if (distinct.length > 1) {
    const names = distinct.map((candidate) => candidate.name ?? candidate.digest).join(', ');
    throw new HarnessError(`${label}: ${distinct.length} images for ${platformString(isa)} (${names}); name one with a tag`);
  }
  return distinct[0]!.image;
}

export interface ImageConfig {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null };
}

/** What the image runs by default: Entrypoint then Cmd, as a container runtime does. */
export function defaultCommand(config: ImageConfig): string[] {
  const command = [...(config.config?.Entrypoint ?? []), ...(config.config?.Cmd ?? [])];
  return command.length ? command : ['/bin/sh'];
}
