// Images that live elsewhere (a tarball by URL, a registry reference), made local for a run:
// fetched into the cache once, then used as the tarball or OCI layout they became. Before
// any case runs, every remote image a plan uses is fetched; an ISA a registry index lacks
// (or, for an optional image, a URL the server lacks) becomes a skipped job with the reason.
import { platformString } from '../isa.ts';
import type { Job, Plan, SkippedJob } from '../matrix/plan.ts';
import type { ImageRef } from '../matrix/schema.ts';
import type { ImageSource } from '../rootfs/index.ts';
import { isasServed } from '../rootfs/platform.ts';
import { sha512FromSums, UnlistedTarballError } from './checksums.ts';
import { downloadVerified, HttpStatusError, type DownloadOptions } from './download.ts';
import type { FetchProgress } from './progress.ts';
import { describePlatforms, parseRegistryRef, pullImage, type PulledImage } from './registry.ts';

export interface FetchContext extends DownloadOptions {
  progress: FetchProgress;
}

export type RemoteRef = Extract<ImageRef, { kind: 'url' | 'registry' }>;

export function isRemote(ref: ImageRef): ref is RemoteRef {
  return ref.kind === 'url' || ref.kind === 'registry';
}

/** The tarball (with its sha512) a URL ref downloads to. */
export async function fetchTarball(ref: Extract<ImageRef, { kind: 'url' }>, context: FetchContext): Promise<ImageSource> {
  const sha512 = ref.sha512 ?? (await sha512FromSums(ref.sha512sums!, ref.url, context));
  const download = await downloadVerified(ref.url, sha512, context);
  return { kind: 'tarball', path: download.path, sha512 };
}

export function pullRegistryImage(ref: Extract<ImageRef, { kind: 'registry' }>, context: FetchContext): Promise<PulledImage> {
  return pullImage(parseRegistryRef(ref.reference)!, { ...context, tlsVerify: ref.tlsVerify });
}

/** Where a remote ref's image is once fetched (a cache hit after fetchForPlan). */
export async function fetchedSource(ref: RemoteRef, context: FetchContext): Promise<ImageSource> {
  if (ref.kind === 'url') return fetchTarball(ref, context);
  const pulled = await pullRegistryImage(ref, context);
  return { kind: 'oci', path: pulled.layout, tag: pulled.tag };
}

/** Why this ISA's image is absent (the job is skipped), or undefined once it is in the cache. */
async function absence(job: Job & { ref: RemoteRef }, context: FetchContext): Promise<string | undefined> {
  if (job.ref.kind === 'registry') {
    const pulled = await pullRegistryImage(job.ref, context);
    if (isasServed(pulled.platforms, [job.isa]).length) return undefined;
    return `image '${job.image.name}' has no ${platformString(job.isa)} (ISA ${job.isa.name}): its index holds ${describePlatforms(pulled.platforms)}`;
  }
  try {
    await fetchTarball(job.ref, context);
    return undefined;
  } catch (error) {
    const missing = (error instanceof HttpStatusError && error.status === 404) || error instanceof UnlistedTarballError;
    if (!missing || !job.image.optional) throw error;
    return `optional image '${job.image.name}' is absent for ${job.isa.name}: ${error.message}`;
  }
}

/** Fetches every remote image the plan's jobs use, all at once; jobs whose ISA the image lacks become skipped. */
export async function fetchForPlan(plan: Plan, context: FetchContext): Promise<Plan> {
  const remote = plan.jobs.filter((job): job is Job & { ref: RemoteRef } => isRemote(job.ref));
  const firstPerImage = [...new Map(remote.map((job) => [`${job.image.name}\0${job.isa.name}`, job])).entries()];
  const reasons = new Map(await Promise.all(firstPerImage.map(async ([key, job]) => [key, await absence(job, context)] as const)));
  const reasonOf = (job: Job) => reasons.get(`${job.image.name}\0${job.isa.name}`);
  const skipped: SkippedJob[] = plan.jobs.flatMap((job) => {
    const reason = reasonOf(job);
    return reason ? [{ id: job.id, image: job.image.name, isa: job.isa, suite: job.suite.name, reason }] : [];
  });
  return { jobs: plan.jobs.filter((job) => !reasonOf(job)), skipped: [...plan.skipped, ...skipped] };
}

