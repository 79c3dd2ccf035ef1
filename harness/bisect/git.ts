// The git commands a source bisect needs, run in the user's tree, with errors that name it.
import { realpath, stat } from 'node:fs/promises';
import { execa } from 'execa';
import { HarnessError } from '../errors.ts';

export class GitTree {
  private constructor(readonly dir: string) {}

  /** The work tree at `dir`; a HarnessError when it is not one. */
  static async open(dir: string): Promise<GitTree> {
    const stats = await stat(dir).catch(() => undefined);
    if (!stats?.isDirectory()) throw new HarnessError(`--source ${dir}: no such directory`);
    const top = await execa('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { reject: false });
    if (top.exitCode !== 0) throw new HarnessError(`--source ${dir}: not a git work tree (git rev-parse: ${top.stderr.trim().split('\n')[0]}); give a clone of the component's source`);
    return new GitTree(await realpath(dir));
  }

  async git(args: string[], options: { reject?: boolean } = {}): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const result = await execa('git', ['-C', this.dir, ...args], { reject: false, env: { LC_ALL: 'C' } });
    if (result.exitCode !== 0 && options.reject !== false) {
      throw new HarnessError(`git ${args.join(' ')} in ${this.dir} exited ${result.exitCode}: ${(result.stderr || result.stdout).trim().split('\n')[0]}`);
    }
    return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
  }

  /** The full hash of a commit; a HarnessError naming the flag when `ref` is none. */
  async commit(ref: string, flag: string): Promise<string> {
    const result = await this.git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { reject: false });
    if (result.exitCode !== 0) throw new HarnessError(`${flag} ${ref}: not a commit in ${this.dir}`);
    return result.stdout.trim();
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return (await this.git(['merge-base', '--is-ancestor', ancestor, descendant], { reject: false })).exitCode === 0;
  }

  async subject(commit: string): Promise<string> {
    return (await this.git(['log', '-1', '--format=%s', commit])).stdout.trim();
  }

  async head(): Promise<string> {
    return (await this.git(['rev-parse', 'HEAD'])).stdout.trim();
  }

  /** Tracked files with changes: a bisect's checkouts would carry or refuse them. */
  async changes(): Promise<string[]> {
    return (await this.git(['status', '--porcelain', '--untracked-files=no'])).stdout.split('\n').filter(Boolean);
  }

  async bisecting(): Promise<boolean> {
    const path = (await this.git(['rev-parse', '--git-path', 'BISECT_START'])).stdout.trim();
    return stat(path.startsWith('/') ? path : `${this.dir}/${path}`).then(() => true, () => false);
  }

  async countCommits(from: string, to: string): Promise<number> {
    return Number((await this.git(['rev-list', '--count', `${from}..${to}`])).stdout.trim());
  }
}
