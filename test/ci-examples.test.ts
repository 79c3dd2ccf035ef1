// The ready-made CI configurations in examples/ci/: each is checked by a validator of its own
// system, and the GitHub workflow's and the Kubernetes Job's commands are run here as the CI
// system would run them (shards with their index set, then the merge), on a small matrix.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { isaByName } from '../harness/isa.ts';
import { cacheRoot, REPO_ROOT } from '../harness/paths.ts';
import { readResultsJson } from '../harness/report/json.ts';
import { buildImages } from '../images/build.ts';

const EXAMPLES = join(REPO_ROOT, 'examples', 'ci');
const WORKFLOW = join(EXAMPLES, 'github-actions.yml');
const GITLAB = join(EXAMPLES, 'gitlab-ci.yml');
const KUBERNETES = join(EXAMPLES, 'kubernetes-indexed-job.yaml');
const IS_ROOT = process.getuid?.() === 0;
const ISAS = ['aarch64', 's390x'];

let scratch: string;
/** A small matrix for the commands the configurations run: two ISAs, BusyBox's sort cases. */
let matrix: string;
const SMALL_ARGS = '--grep sort';

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ci-examples-'));
  matrix = join(scratch, 'small.yaml');
  await writeFile(matrix, `name: small\narches: [${ISAS.join(', ')}]\nimages: [built]\nsuites: { busybox: {} }\nretries: 1\n`);
});

/** The small matrix's images (cached: only a cold cache builds). */
const ensureImages = () => buildImages({ arches: ISAS.map(isaByName) });

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Runs a shell script the way the CI system would, in `cwd` with `env`; resolves to its exit code. */
async function runScript(script: string, shellArgs: string[], cwd: string, env: Record<string, string>): Promise<{ exitCode: number; output: string }> {
  const file = join(scratch, `step-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(file, script);
  const run = await execa('bash', [...shellArgs, file], { cwd, env, extendEnv: true, reject: false, all: true });
  return { exitCode: run.exitCode ?? -1, output: run.all ?? '' };
}

describe('the GitHub Actions workflow', () => {
  it('passes action-validator, which does reject a broken workflow', async () => {
    const ok = await execa('npx', ['action-validator', WORKFLOW], { cwd: REPO_ROOT, reject: false });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    const broken = join(scratch, 'broken.yml');
    await writeFile(broken, (await readFile(WORKFLOW, 'utf8')).replace('runs-on: ubuntu-24.04', 'runs_on: ubuntu-24.04'));
    expect((await execa('npx', ['action-validator', broken], { cwd: REPO_ROOT, reject: false })).exitCode).not.toBe(0);
  });

  it.skipIf(!IS_ROOT)('runs its shard steps for every matrix value, then its merge steps, in order', async () => {
    await ensureImages();
    interface Step { id?: string; name?: string; uses?: string; run?: string; shell?: string; with?: Record<string, string>; if?: string }
    const workflow = parse(await readFile(WORKFLOW, 'utf8')) as { env: Record<string, string>; jobs: Record<string, { needs?: string; strategy?: { matrix: { shard: number[] } }; steps: Step[] }> };
    const shards = workflow.jobs.shard!.strategy!.matrix.shard;
    expect(workflow.jobs.merge!.needs).toBe('shard');

    // Each job runs in a fresh checkout, as on GitHub: the repository's files linked into a workspace of its own.
    let workspace = '';
    const checkout = async (name: string) => {
      workspace = join(scratch, `workspace-${name}`);
      await mkdir(workspace);
      for (const entry of await readdir(REPO_ROOT)) if (!['reports', '.git'].includes(entry)) await symlink(join(REPO_ROOT, entry), join(workspace, entry));
    };
    const artifacts = join(scratch, 'artifacts');
    // GitHub's runner user is not root: the steps use sudo, which here only runs the command.
    const bin = join(scratch, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'sudo'), '#!/bin/sh\nwhile [ "$1" = --preserve-env ] || [ "$1" = -E ]; do shift; done\nexec "$@"\n', { mode: 0o755 });
    const summary = join(scratch, 'step-summary.md');

    const runJob = async (job: string, matrixValue: number | undefined) => {
      await checkout(`${job}${matrixValue ?? ''}`);
      const expressions: Record<string, string> = {
        'github.workspace': workspace, 'runner.os': 'Linux', 'github.run_id': '1',
        ...(matrixValue !== undefined && { 'matrix.shard': String(matrixValue), 'strategy.job-total': String(shards.length) }),
      };
      const fill = (text: string) => text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
        if (expr === 'env.HARNESS_CACHE') return cacheRoot();
        if (expressions[expr] === undefined) throw new Error(`${job}: the test cannot fill \${{ ${expr} }}`);
        return expressions[expr]!;
      });
      // The workflow's env, except that images come from this machine's cache (built already) and the matrix is small.
      const env = { ...Object.fromEntries(Object.entries(workflow.env).map(([k, v]) => [k, fill(v)])), MATRIX: matrix, HARNESS_ARGS: SMALL_ARGS, HARNESS_CACHE: cacheRoot(), GITHUB_STEP_SUMMARY: summary, PATH: `${bin}:${process.env.PATH}` };
      for (const step of workflow.jobs[job]!.steps) {
        if (step.run !== undefined) {
          // npm ci and harness setup ran on this machine before npm test (.ci/run runs exactly these).
          if (step.id === 'install' || step.id === 'setup') continue;
          const shellArgs = step.shell === 'bash' ? ['--noprofile', '--norc', '-eo', 'pipefail'] : ['-e'];
          const { exitCode, output } = await runScript(fill(step.run), shellArgs, workspace, env);
          expect(exitCode, `${job} ${matrixValue ?? ''} step '${step.name}':\n${output}`).toBe(0);
          continue;
        }
        const uses = step.uses!.replace(/@.*$/, '');
        const path = step.with?.path !== undefined ? fill(step.with.path) : undefined;
        if (uses === 'actions/upload-artifact') {
          expect(existsSync(join(workspace, path!)), `${step.with!.name}: ${path}`).toBe(true);
          await cp(join(workspace, path!), join(artifacts, fill(step.with!.name!)), { recursive: true });
        } else if (uses === 'actions/download-artifact') {
          const pattern = new RegExp(`^${step.with!.pattern!.replace(/\*/g, '.*')}$`);
          for (const name of (await readdir(artifacts)).filter((n) => pattern.test(n))) await cp(join(artifacts, name), join(workspace, path!, name), { recursive: true });
        } else if (uses === 'mikepenz/action-junit-report') {
          expect(existsSync(join(workspace, step.with!.report_paths!))).toBe(true);
        } else if (uses === 'actions/cache/save') {
          expect(existsSync(join(workspace, path!))).toBe(true);
        } else {
          // The checkout is the workspace, Node is this one, and caches start empty.
          expect(['actions/checkout', 'actions/setup-node', 'actions/cache', 'actions/cache/restore']).toContain(uses);
        }
      }
    };
    for (const shard of shards) await runJob('shard', shard);
    await runJob('merge', undefined);

    const merged = await readResultsJson(join(workspace, 'merged', 'results.json'));
    expect(merged.properties.merged!.shards.map((s) => `${s.index}/${s.total} ${s.source}`)).toEqual(shards.map((k) => `${k}/${shards.length} --shard`));
    expect(merged.results.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(ISAS.length * 3);
    expect(await readFile(summary, 'utf8')).toMatch(/merged JUnit[\s\S]*ISA\s+suite\s+tests/);
    expect(existsSync(join(workspace, 'timings', 'results.json'))).toBe(true);
    // The JUnit carries each case's source for GitLab-style readers.
    expect(await readFile(join(workspace, 'merged', 'junit.xml'), 'utf8')).toMatch(/<testcase [^>]*file="harness\/suites\/busybox\/cases\.yaml"[^>]* line="\d+"/);
  });
});

describe('the GitLab CI file', () => {
  // GitLab's documented keywords (docs.gitlab.com/ci/yaml): global ones, and those of a job.
  const GLOBAL = new Set(['default', 'include', 'stages', 'variables', 'workflow', 'spec']);
  const JOB = new Set(['after_script', 'allow_failure', 'artifacts', 'before_script', 'cache', 'coverage', 'dependencies', 'environment', 'extends', 'hooks', 'id_tokens', 'image', 'inherit', 'interruptible', 'needs', 'pages', 'parallel', 'release', 'resource_group', 'retry', 'rules', 'script', 'secrets', 'services', 'stage', 'tags', 'timeout', 'trigger', 'variables', 'when']);
  const ARTIFACTS = new Set(['paths', 'exclude', 'expire_in', 'expose_as', 'name', 'public', 'access', 'reports', 'untracked', 'when']);
  const CACHE = new Set(['key', 'paths', 'untracked', 'unprotect', 'when', 'policy', 'fallback_keys']);

  it('is YAML with GitLab keywords only: a parallel shard job and a merge job reporting JUnit', async () => {
    const doc = parse(await readFile(GITLAB, 'utf8')) as Record<string, Record<string, unknown>>;
    const jobs = Object.entries(doc).filter(([name]) => !GLOBAL.has(name) && !name.startsWith('.'));
    const stages = doc.stages as unknown as string[];
    for (const [name, job] of jobs) {
      expect(Object.keys(job).filter((k) => !JOB.has(k)), name).toEqual([]);
      expect(stages, name).toContain(job.stage);
      expect(Array.isArray(job.script) && job.script.every((line) => typeof line === 'string'), name).toBe(true);
      if (job.artifacts) expect(Object.keys(job.artifacts).filter((k) => !ARTIFACTS.has(k)), name).toEqual([]);
      const caches = (Array.isArray(job.cache) ? job.cache : job.cache ? [job.cache] : []) as Array<Record<string, unknown>>;
      for (const cache of caches) {
        expect(Object.keys(cache).filter((k) => !CACHE.has(k)), name).toEqual([]);
        // key: files takes at most two files.
        const files = (cache.key as { files?: string[] })?.files;
        if (files) expect(files.length).toBeLessThanOrEqual(2);
        for (const file of files ?? []) expect(existsSync(join(REPO_ROOT, file)), file).toBe(true);
      }
      for (const need of (job.needs as Array<{ job: string }> | undefined) ?? []) expect(doc[need.job], `${name} needs ${need.job}`).toBeDefined();
    }
    const shard = doc.harness!;
    expect(Number.isInteger(shard.parallel) && (shard.parallel as number) >= 2 && (shard.parallel as number) <= 200).toBe(true);
    // The shard job sets no --shard: harness reads CI_NODE_INDEX/CI_NODE_TOTAL, which parallel: sets.
    expect((shard.script as string[]).find((line) => line.includes('harness run'))).not.toMatch(/--shard/);
    const merge = doc['harness-merge']!;
    expect((merge.artifacts as { reports: { junit: string } }).reports.junit).toBe('merged/junit.xml');
    expect((merge.script as string[]).some((line) => line.startsWith('npx harness merge shards ') && line.includes('--junit merged/junit.xml'))).toBe(true);
  });
});

describe('the Kubernetes Indexed Job', () => {
  const MODELS = { Job, ConfigMap, PersistentVolumeClaim } as const;
  type Doc = { kind: keyof typeof MODELS; metadata: { name: string }; [key: string]: unknown };
  const documents = async (text?: string) => parseAllDocuments(text ?? (await readFile(KUBERNETES, 'utf8'))).map((d) => d.toJS() as Doc);

  it('validates against the Kubernetes API schema (kubernetes-models), which does reject a broken Job', async () => {
    const docs = await documents();
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Job', 'Job', 'PersistentVolumeClaim']);
    for (const doc of docs) expect(() => new MODELS[doc.kind](doc as never).validate(), doc.metadata.name).not.toThrow();
    const broken = await documents((await readFile(KUBERNETES, 'utf8')).replace('completionMode: Indexed', 'completionMode: Indexd').replace('completions: 4', "completions: 'four'"));
    expect(() => new Job(broken.find((d) => d.metadata.name === 'harness-shards') as never).validate()).toThrow(/completionMode.*allowed values.*completions must be integer/);
  });

  it.skipIf(!IS_ROOT)('simulated: the workers run at once with JOB_COMPLETION_INDEX set, then the merge', async () => {
    await ensureImages();
    const docs = await documents();
    const config = (docs.find((d) => d.kind === 'ConfigMap') as unknown as { data: Record<string, string> }).data;
    type PodJob = { spec: { completions?: number; parallelism?: number; completionMode?: string; template: { spec: { containers: Array<{ name: string; command: string[]; workingDir: string }> } } } };
    const shardsJob = docs.find((d) => d.metadata.name === 'harness-shards') as unknown as PodJob;
    const mergeJob = docs.find((d) => d.metadata.name === 'harness-merge') as unknown as PodJob;
    const total = shardsJob.spec.completions!;
    expect(shardsJob.spec.completionMode).toBe('Indexed');
    expect(shardsJob.spec.parallelism).toBe(total);
    expect(config.HARNESS_SHARD_TOTAL).toBe(String(total));

    const results = join(scratch, 'k8s-results');
    // The ConfigMap's variables, with the volume at a temp dir and the small matrix; /src is this checkout.
    const env = { ...config, RESULTS_DIR: results, MATRIX: matrix, HARNESS_ARGS: SMALL_ARGS, CI: 'true' };
    const container = (job: PodJob) => {
      const [c] = job.spec.template.spec.containers;
      expect(c!.workingDir).toBe('/src');
      expect(c!.command.slice(0, 2)).toEqual(['/bin/bash', '-c']);
      return c!.command[2]!;
    };
    const workers = await Promise.all(Array.from({ length: total }, (_, index) =>
      runScript(container(shardsJob), [], REPO_ROOT, { ...env, JOB_COMPLETION_INDEX: String(index) })));
    for (const [index, worker] of workers.entries()) expect(worker.exitCode, `worker ${index}:\n${worker.output}`).toBe(0);
    const merge = await runScript(container(mergeJob), [], REPO_ROOT, env);
    expect(merge.exitCode, merge.output).toBe(0);
    const merged = await readResultsJson(join(results, 'merged', 'results.json'));
    expect(merged.properties.merged!.shards.map((s) => `${s.index}/${s.total} ${s.source}`)).toEqual(
      Array.from({ length: total }, (_, i) => `${i + 1}/${total} JOB_COMPLETION_INDEX/HARNESS_SHARD_TOTAL`),
    );
    expect(merged.results.filter((r) => r.verdict === 'passed').length).toBeGreaterThan(ISAS.length * 3);
  });
});
